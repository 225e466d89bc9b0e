//! The footer under the layer table: totals, where the parameters sit, and memory.
//!
//! Sections are built as rows of cells once; [`render_text`] and the Markdown report lay them out.

use super::vgg_names::paper_names;
use crate::dtype::DType;
use crate::memory::{self, Optimizer, Precision};
use crate::summary::head::find_head;
use crate::summary::{ModelSummary, Role, Totals};
use crate::units::{binary, decimal, si, thousands};

/// One block of the footer.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: Option<String>,
    /// Column names, for layouts that show them (Markdown).
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// `Label: value` lines (torchinfo's style) rather than aligned columns.
    pub key_value: bool,
    /// Columns to right-align (numbers); the others are left-aligned.
    pub right: Vec<bool>,
}

/// `[1, 3, 224, 224]` → `1×3×224×224`, for inputs in prose.
pub fn shape_text(shape: &[u64]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

fn percent1(totals: &Totals, n: u64) -> String {
    format!("{:.1}%", totals.percent(n))
}

/// What the operator count covers, said wherever it is the headline.
pub const OPERATOR_MULT_ADDS: &str =
    "counted per operator: every convolution, matmul and attention product as executed";
/// What torchinfo's count is.
pub const TORCHINFO_MULT_ADDS: &str = "each layer's parameters × its output positions";

/// The headline mult-adds: the operator count where it was measured, torchinfo's parameter-based
/// count beside it, and, where they differ by more than 10%, one line on why.
pub fn mult_adds_rows(summary: &ModelSummary, totals: &Totals) -> Vec<Vec<String>> {
    let figure = |m: u64, what: &str| format!("{} ({}; {what})", si(m), thousands(m));
    let row = |label: &str, value: String| vec![label.to_string(), value];
    match (totals.op_mult_adds, totals.mult_adds) {
        (Some(ops), torchinfo) => {
            let mut rows = vec![row("Total mult-adds", figure(ops, OPERATOR_MULT_ADDS))];
            if let Some(ti) = torchinfo {
                rows.push(row(
                    "torchinfo's mult-adds",
                    figure(ti, TORCHINFO_MULT_ADDS),
                ));
                if let Some(why) = why_they_differ(summary, totals, ops, ti) {
                    rows.push(row("Why they differ", why));
                }
            }
            rows
        }
        (None, Some(ti)) => vec![row(
            "Total mult-adds",
            format!(
                "{} ({}; torchinfo's count: {TORCHINFO_MULT_ADDS})",
                si(ti),
                thousands(ti)
            ),
        )],
        (None, None) => vec![row(
            "Total mult-adds",
            if layer_seen(summary) && summary.partly_measured() {
                "-- (some layers ran unseen; see the notes)"
            } else if summary.root.outputs.is_some() {
                "-- (only the model's overall output was measured, not its layers')"
            } else {
                "-- (no forward pass was run)"
            }
            .to_string(),
        )],
    }
}

/// One line on why torchinfo's count is off by more than 10%, naming what in this model makes it so.
pub fn why_they_differ(
    summary: &ModelSummary,
    totals: &Totals,
    ops: u64,
    torchinfo: u64,
) -> Option<String> {
    let (low, high) = (ops.min(torchinfo) as f64, ops.max(torchinfo) as f64);
    if high <= low * 1.1 {
        return None;
    }
    let ratio = if low == 0.0 {
        "far".to_string()
    } else {
        format!("{:.1}×", high / low)
    };
    if ops > torchinfo {
        return Some(format!(
            "torchinfo's count is {ratio} lower: it charges only parameters, so products of two \
             activations (attention scores and weighted values, matmuls without weights) cost it nothing"
        ));
    }
    let nodes = summary.root.walk();
    let mut reasons = Vec::new();
    if nodes.iter().any(|(_, n)| n.type_name == "Conv1D") {
        reasons.push("takes Hugging Face's Conv1D (a Linear) for a convolution, charging its weights at every position");
    }
    if totals.role_params(Role::Experts) > 0 {
        reasons.push("charges every expert for every token, though each token runs a few");
    }
    if totals.role_params(Role::Embedding) > 0 {
        reasons.push("counts embedding lookups, which multiply nothing");
    }
    if reasons.is_empty() {
        reasons.push("charges each layer's parameters at every output position, whether or not the layer uses them there");
    }
    Some(format!(
        "torchinfo's count is {ratio} higher: it {}",
        reasons.join("; it ")
    ))
}

/// Totals: parameters, buffers, tied tensors, mult-adds.
pub fn totals_section(summary: &ModelSummary, totals: &Totals) -> Section {
    let mut rows = vec![
        vec!["Total params".to_string(), thousands(totals.params)],
        vec!["Trainable params".to_string(), thousands(totals.trainable)],
        vec![
            "Non-trainable params".to_string(),
            thousands(totals.non_trainable),
        ],
        vec![
            "Buffers".to_string(),
            format!(
                "{} ({}; running statistics and the like, not parameters)",
                thousands(totals.buffers),
                binary(totals.buffer_bytes)
            ),
        ],
    ];
    if totals.frozen_constants > 0 {
        rows.push(vec![
            "Frozen constants".to_string(),
            format!(
                "{} in {} tensor{} (torch.jit.freeze folded the weights into the code; counted above as non-trainable)",
                thousands(totals.frozen_constants),
                thousands(totals.frozen_constant_tensors as u64),
                if totals.frozen_constant_tensors == 1 { "" } else { "s" }
            ),
        ]);
    }
    if totals.tied_tensors > 0 {
        rows.push(vec![
            "Tied parameters".to_string(),
            format!(
                "{} tensor{} sharing storage with an earlier one, counted once ({} not counted again)",
                totals.tied_tensors,
                if totals.tied_tensors == 1 { "" } else { "s" },
                thousands(totals.tied_params)
            ),
        ]);
    }
    rows.extend(mult_adds_rows(summary, totals));
    Section {
        title: None,
        header: vec!["".into(), "".into()],
        rows,
        key_value: true,
        right: vec![],
    }
}

/// Where the parameters sit, per layer role, largest first; with the operator mult-adds each role
/// runs when they were measured (the attention product counts under Attention).
pub fn roles_section(totals: &Totals) -> Section {
    let mut shares = totals.by_role.clone();
    shares.sort_by_key(|r| std::cmp::Reverse(r.params));
    let measured = totals.op_mult_adds.is_some();
    let rows = shares
        .iter()
        .map(|r| {
            let mut row = vec![
                r.role.name().to_string(),
                thousands(r.params),
                percent1(totals, r.params),
                format!("{} layer{}", r.layers, if r.layers == 1 { "" } else { "s" }),
            ];
            if measured {
                // A role none of whose operators was measured is unknown, not 0.
                match r.op_mult_adds {
                    Some(m) => {
                        row.push(format!("{} mult-adds", si(m)));
                        row.push(format!("{:.1}%", totals.op_percent(m)));
                    }
                    None => row.extend(["-- mult-adds".to_string(), "--".to_string()]),
                }
            }
            row
        })
        .collect();
    let mut header: Vec<String> = ["Role", "Params", "Share", "Layers"]
        .map(String::from)
        .to_vec();
    let mut right = vec![false, true, true, true];
    if measured {
        header.extend(["Mult-adds (ops)".to_string(), "Share".to_string()]);
        right.extend([true, true]);
    }
    Section {
        title: Some("Where the parameters sit".to_string()),
        header,
        rows,
        key_value: false,
        right,
    }
}

/// The largest layers by their own parameters, with the head the network ends in.
pub fn largest_section(summary: &ModelSummary, totals: &Totals, count: usize) -> Section {
    let names = paper_names(summary);
    let rows: Vec<Vec<String>> = totals
        .largest
        .iter()
        .take(count)
        .map(|l| {
            let label = match names.get(&l.path) {
                Some(paper) => format!("{paper} ({})", l.path),
                None if l.path.is_empty() => "(root)".to_string(),
                None => l.path.clone(),
            };
            vec![
                super::name(&label, super::MAX_CELL),
                super::name(&l.type_name, super::MAX_NAME),
                thousands(l.params),
                percent1(totals, l.params),
            ]
        })
        .collect();
    Section {
        title: Some("Largest layers".to_string()),
        header: vec![
            "Layer".into(),
            "Type".into(),
            "Params".into(),
            "Share".into(),
        ],
        rows,
        key_value: false,
        right: vec![false, false, true, true],
    }
}

/// The head: what follows the body (a fully connected stack, pooling and a classifier, a language
/// model's output projection), at most three layers named, a tied weight said where it is counted.
pub fn head_section(summary: &ModelSummary, totals: &Totals) -> Section {
    let head = find_head(&summary.root);
    let mut details: Vec<String> = Vec::new();
    if !head.linear_layers.is_empty() {
        details.push(head.layers_text());
    }
    details.extend(head.tied_text());
    let layers = if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join("; "))
    };
    Section {
        title: None,
        header: vec!["".into(), "".into()],
        rows: vec![vec![
            "Head".to_string(),
            format!(
                "{}{}: {} params ({})",
                head.describe(),
                super::name(&layers, super::MAX_LINE),
                thousands(head.params),
                percent1(totals, head.params)
            ),
        ]],
        key_value: true,
        right: vec![],
    }
}

/// Some leaf layer's output was measured.
fn layer_seen(summary: &ModelSummary) -> bool {
    summary
        .root
        .walk()
        .iter()
        .any(|(_, n)| n.is_leaf() && n.outputs.is_some())
}

/// Memory: input, weights, training state, activations. Binary units beside decimal ones on every line.
pub fn memory_section(summary: &ModelSummary, totals: &Totals) -> Section {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let row = |label: String, bytes: u64| vec![label, binary(bytes), decimal(bytes)];
    let maybe_row = |label: &str, bytes: Option<u64>| match bytes {
        Some(b) => row(label.to_string(), b),
        None => vec![
            label.to_string(),
            "overflows 64 bits".to_string(),
            String::new(),
        ],
    };
    for input in &summary.inputs {
        rows.push(row(
            format!("input {} {}", shape_text(&input.shape), input.dtype),
            input.bytes(),
        ));
    }
    let adam = memory::training_of(
        totals.params,
        totals.trainable,
        Precision::Full(DType::Float32),
        Optimizer::Adam,
    );
    rows.push(maybe_row(
        &format!("weights, float32 ({} × 4 B)", thousands(totals.params)),
        adam.weights,
    ));
    if totals
        .param_dtypes
        .iter()
        .any(|(d, _)| *d != DType::Float32)
    {
        let stored: Vec<&str> = totals.param_dtypes.iter().map(|(d, _)| d.name()).collect();
        rows.push(row(
            format!("weights as stored ({})", stored.join(", ")),
            totals.param_bytes,
        ));
    }
    if totals.buffers > 0 {
        rows.push(row("buffers as stored".to_string(), totals.buffer_bytes));
    }
    rows.push(maybe_row(memory::ADAM_LABEL, adam.without_gradients()));
    rows.push(maybe_row(memory::FULL_TRAINING_LABEL, adam.total()));
    let mixed = memory::training_of(
        totals.params,
        totals.trainable,
        Precision::Mixed(DType::Float16),
        Optimizer::Adam,
    );
    rows.push(maybe_row(memory::MIXED_ADAM_LABEL, mixed.total()));
    if totals.trainable < totals.params {
        // Frozen parameters are stored but never updated, so they carry no gradients or Adam state.
        rows.push(vec![
            format!(
                "  (gradients and Adam state for the {} trainable params only; {} frozen)",
                thousands(totals.trainable),
                thousands(totals.params - totals.trainable)
            ),
            String::new(),
            String::new(),
        ]);
    }
    let batch = summary
        .inputs
        .first()
        .and_then(|i| i.shape.first())
        .copied();
    match (&totals.activations, batch) {
        (Some(a), Some(batch)) => {
            rows.push(row(
                format!(
                    "activations, batch {batch}: outputs of layers with parameters ×2 (torchinfo)"
                ),
                a.torchinfo_bytes,
            ));
            rows.push(row(
                format!("activations, batch {batch}: every leaf layer's output, forward"),
                a.leaf_output_bytes,
            ));
            if let Some(estimated) = totals.torchinfo_estimated_total_bytes() {
                rows.push(row(
                    "torchinfo's estimated total (input + leaf weights + ×2 outputs)".to_string(),
                    estimated,
                ));
            }
        }
        _ => rows.push(vec![
            if layer_seen(summary) && summary.partly_measured() {
                "activations: -- (some layers ran unseen; see the notes)"
            } else if summary.root.outputs.is_some() {
                // A forward pass ran, but no layer's output was seen (a VarStore without recording).
                "activations: -- (only the model's overall output was measured, not its layers')"
            } else {
                "activations: -- (no forward pass was run; for a file, give --input-size)"
            }
            .to_string(),
            String::new(),
            String::new(),
        ]),
    }
    Section {
        title: Some(
            "Memory (KiB, MiB, GiB: powers of 2^10 bytes; KB, MB, GB: powers of 10^3 bytes)"
                .to_string(),
        ),
        header: vec!["".into(), "binary".into(), "decimal".into()],
        rows,
        key_value: false,
        right: vec![false, true, true],
    }
}

/// All footer sections in order; a rule separates the groups (totals | placement | memory).
pub fn sections(summary: &ModelSummary, totals: &Totals) -> Vec<Vec<Section>> {
    let mut placement = vec![roles_section(totals)];
    if totals.params > 0 {
        placement.push(largest_section(summary, totals, 5));
        placement.push(head_section(summary, totals));
    }
    let biases = crate::summary::lint::redundant_biases(summary);
    if let Some(line) = super::lint::footer_line(&biases) {
        placement.push(Section {
            title: None,
            header: vec![],
            rows: vec![vec!["Redundant bias".to_string(), line]],
            key_value: true,
            right: vec![],
        });
    }
    let mut groups = vec![
        vec![totals_section(summary, totals)],
        placement,
        vec![memory_section(summary, totals)],
    ];
    let described: Vec<Section> = [architecture_section(summary), metadata_section(summary)]
        .into_iter()
        .flatten()
        .collect();
    if !described.is_empty() {
        groups.push(described);
    }
    groups
}

/// The architecture as the model's own description states it (`config.json`, GGUF keys).
pub fn architecture_section(summary: &ModelSummary) -> Option<Section> {
    let a = summary.architecture.as_ref()?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |label: &str, value: String| rows.push(vec![label.to_string(), value]);
    let n = |v: Option<u64>| v.map(thousands);
    let model = match (&a.model_type, a.architectures.as_slice()) {
        (Some(t), []) => Some(t.clone()),
        (Some(t), classes) => Some(format!("{t} ({})", classes.join(", "))),
        (None, []) => None,
        (None, classes) => Some(classes.join(", ")),
    };
    if let Some(m) = model {
        row("model type", m);
    }
    if let Some(l) = n(a.layers) {
        row("layers", l);
    }
    match (n(a.encoder_layers), n(a.decoder_layers)) {
        (Some(e), Some(d)) => row("encoder / decoder layers", format!("{e} / {d}")),
        (Some(e), None) => row("encoder layers", e),
        (None, Some(d)) => row("decoder layers", d),
        (None, None) => {}
    }
    if let Some(h) = n(a.hidden_size) {
        row("hidden size", h);
    }
    if let Some(f) = n(a.intermediate_size) {
        row("feed-forward size", f);
    }
    match (a.attention_heads, a.kv_heads) {
        (Some(h), Some(kv)) if kv < h => row(
            "attention heads",
            format!(
                "{} ({} key/value head{}: {})",
                thousands(h),
                thousands(kv),
                if kv == 1 { "" } else { "s" },
                if kv == 1 {
                    "multi-query attention"
                } else {
                    "grouped-query attention"
                }
            ),
        ),
        (Some(h), _) => row("attention heads", thousands(h)),
        (None, Some(kv)) => row("key/value heads", thousands(kv)),
        (None, None) => {}
    }
    if let Some(d) = n(a.head_dim) {
        row("head size", d);
    }
    if let Some(v) = n(a.vocab_size) {
        row("vocabulary", v);
    }
    if let Some(c) = n(a.context_length) {
        row("context length", c);
    }
    match (a.experts, a.experts_per_token) {
        (Some(e), Some(k)) => row(
            "experts",
            format!("{} per MoE layer, {} per token", thousands(e), thousands(k)),
        ),
        (Some(e), None) => row("experts", format!("{} per MoE layer", thousands(e))),
        _ => {}
    }
    if let Some(t) = a.tie_word_embeddings {
        row(
            "tied embeddings",
            if t {
                "yes: the output head shares the input embedding's weight"
            } else {
                "no"
            }
            .to_string(),
        );
    }
    if let Some(d) = &a.dtype {
        row("dtype", d.clone());
    }
    if let Some(q) = &a.quantization {
        row("quantization", q.clone());
    }
    for r in &mut rows {
        r[1] = shown_value(&r[1]);
    }
    Some(Section {
        title: Some(format!("Architecture ({})", a.described_by)),
        header: vec!["".into(), "".into()],
        rows,
        key_value: false,
        right: vec![false, false],
    })
}

/// How many of a file's key/values the text footer lists; JSON carries them all.
const SHOWN_METADATA: usize = 24;

/// The key/values a file carries (safetensors' `__metadata__`, GGUF's metadata).
pub fn metadata_section(summary: &ModelSummary) -> Option<Section> {
    let all = &summary.file_metadata;
    if all.is_empty() {
        return None;
    }
    let mut rows: Vec<Vec<String>> = all
        .iter()
        .take(SHOWN_METADATA)
        .map(|(k, v)| vec![shown_value(k), shown_value(v)])
        .collect();
    if all.len() > SHOWN_METADATA {
        rows.push(vec![
            format!(
                "… and {} more (--format json lists them all)",
                all.len() - SHOWN_METADATA
            ),
            String::new(),
        ]);
    }
    Some(Section {
        title: Some("File metadata".to_string()),
        header: vec!["Key".into(), "Value".into()],
        rows,
        key_value: false,
        right: vec![false, false],
    })
}

/// Text from a file, made safe to print: control characters escaped, at most 100 characters.
fn shown_value(text: &str) -> String {
    const KEEP: usize = 100;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == KEEP {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Lines aligned in columns; `right[c]` right-aligns column `c`.
pub fn aligned(rows: &[Vec<String>], right: &[bool], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = indent.to_string();
        for (c, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[c] - cell.chars().count());
            if c > 0 {
                line.push_str("  ");
            }
            if right.get(c).copied().unwrap_or(false) {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn rule(width: usize) -> String {
    let mut s = "=".repeat(width);
    s.push('\n');
    s
}

fn section_text(section: &Section) -> String {
    let mut s = String::new();
    if let Some(title) = &section.title {
        s += title;
        s.push('\n');
    }
    if section.key_value {
        for row in &section.rows {
            s += &format!("{}: {}\n", row[0], row[1..].join(" "));
        }
    } else {
        s += &aligned(&section.rows, &section.right, "  ");
    }
    s
}

/// The whole footer as text, each group closed by a rule as wide as the table.
pub fn render_text(summary: &ModelSummary, totals: &Totals, width: usize) -> String {
    let mut s = String::new();
    for group in sections(summary, totals) {
        for section in &group {
            s += &section_text(section);
        }
        s += &rule(width);
    }
    for note in super::shown_notes(&summary.notes) {
        s += &format!("Note: {note}\n");
    }
    s
}
