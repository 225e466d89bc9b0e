//! The footer under the layer table: totals, where the parameters sit, and memory.

use super::vgg_names::paper_names;
use crate::dtype::DType;
use crate::memory::{self, Optimizer, Precision};
use crate::summary::{ModelSummary, Totals};
use crate::units::{binary, decimal, si, thousands};

const RULE_CHAR: char = '=';

/// Lines aligned in columns: the first left-aligned, the rest right-aligned.
fn aligned(rows: &[Vec<String>], indent: &str) -> String {
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
            let pad = widths[c] - cell.chars().count();
            if c == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn shape_text(shape: &[u64]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// Totals: parameters, buffers, tied tensors, mult-adds.
pub fn totals_section(totals: &Totals) -> String {
    let mut s = String::new();
    s += &format!("Total params: {}\n", thousands(totals.params));
    s += &format!("Trainable params: {}\n", thousands(totals.trainable));
    s += &format!(
        "Non-trainable params: {}\n",
        thousands(totals.non_trainable)
    );
    s += &format!(
        "Buffers: {} ({}; running statistics and the like, not parameters)\n",
        thousands(totals.buffers),
        binary(totals.buffer_bytes)
    );
    if totals.tied_tensors > 0 {
        s += &format!(
            "Tied parameters: {} tensor{} sharing storage with an earlier one, counted once ({} not counted again)\n",
            totals.tied_tensors,
            if totals.tied_tensors == 1 { "" } else { "s" },
            thousands(totals.tied_params)
        );
    }
    match totals.mult_adds {
        Some(m) => {
            s += &format!(
                "Total mult-adds: {} ({}; torchinfo's count: each layer's parameters × its output positions)\n",
                si(m),
                thousands(m)
            )
        }
        None => s += "Total mult-adds: -- (no forward pass was run)\n",
    }
    if let Some(m) = totals.op_mult_adds {
        s += &format!(
            "Operator mult-adds: {} ({}; every convolution, matmul and attention product as executed)\n",
            si(m),
            thousands(m)
        );
    }
    s
}

fn percent1(totals: &Totals, n: u64) -> String {
    format!("{:.1}%", totals.percent(n))
}

/// Where the parameters sit: per layer kind, and the largest layers by name.
pub fn placement_section(summary: &ModelSummary, totals: &Totals, largest: usize) -> String {
    let mut s = String::from("Where the parameters sit\n");
    if totals.params == 0 {
        s += "  (no parameters)\n";
        return s;
    }
    let kinds: Vec<Vec<String>> = totals
        .by_kind
        .iter()
        .map(|k| {
            vec![
                k.kind.name().to_string(),
                thousands(k.params),
                percent1(totals, k.params),
                format!("{} layer{}", k.layers, if k.layers == 1 { "" } else { "s" }),
            ]
        })
        .collect();
    s += &aligned(&kinds, "  ");
    let names = paper_names(summary);
    let top: Vec<Vec<String>> = totals
        .largest
        .iter()
        .take(largest)
        .map(|l| {
            let label = match names.get(&l.path) {
                Some(paper) => format!("{paper} ({})", l.path),
                None => l.path.clone(),
            };
            vec![
                label,
                l.type_name.clone(),
                thousands(l.params),
                percent1(totals, l.params),
            ]
        })
        .collect();
    if !top.is_empty() {
        s += "  Largest layers:\n";
        s += &aligned(&top, "    ");
    }
    s
}

/// Memory: input, weights, training state, activations. MiB beside MB on every line.
pub fn memory_section(summary: &ModelSummary, totals: &Totals) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let row = |label: String, bytes: u64| vec![label, binary(bytes), decimal(bytes)];
    for input in &summary.inputs {
        rows.push(row(
            format!("input {} {}", shape_text(&input.shape), input.dtype),
            input.bytes(),
        ));
    }
    let fp32 = Precision::Full(DType::Float32);
    let adam = memory::training(totals.params, fp32, Optimizer::Adam);
    rows.push(row(
        format!("weights, float32 ({} × 4 B)", thousands(totals.params)),
        adam.weights,
    ));
    let real_dtypes: Vec<String> = totals
        .param_dtypes
        .iter()
        .map(|(d, _)| d.name().to_string())
        .collect();
    if totals
        .param_dtypes
        .iter()
        .any(|(d, _)| *d != DType::Float32)
    {
        rows.push(row(
            format!("weights as stored ({})", real_dtypes.join(", ")),
            totals.param_bytes,
        ));
    }
    if totals.buffers > 0 {
        rows.push(row("buffers as stored".to_string(), totals.buffer_bytes));
    }
    rows.push(row(
        "Adam: weights + momentum + variance (×3)".to_string(),
        adam.without_gradients(),
    ));
    rows.push(row(
        "full training: Adam + gradients (×4)".to_string(),
        adam.total(),
    ));
    let mixed = memory::training(
        totals.params,
        Precision::Mixed(DType::Float16),
        Optimizer::Adam,
    );
    rows.push(row(
        "mixed precision Adam (16 B/param)".to_string(),
        mixed.total(),
    ));
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
            let estimated = totals.input_bytes + adam.weights + a.torchinfo_bytes;
            rows.push(row(
                "torchinfo's estimated total (input + weights + ×2 outputs)".to_string(),
                estimated,
            ));
        }
        _ => rows.push(vec![
            "activations: -- (no forward pass was run)".to_string(),
        ]),
    }
    let mut s = String::from(
        "Memory (KiB, MiB, GiB: powers of 2^10 bytes; KB, MB, GB: powers of 10^3 bytes)\n",
    );
    s += &aligned(&rows, "  ");
    s
}

pub fn rule(width: usize) -> String {
    let mut s: String = std::iter::repeat_n(RULE_CHAR, width).collect();
    s.push('\n');
    s
}

/// The whole footer, each section between rules as wide as the table.
pub fn render(summary: &ModelSummary, totals: &Totals, width: usize) -> String {
    let mut s = String::new();
    s += &totals_section(totals);
    s += &rule(width);
    s += &placement_section(summary, totals, 5);
    s += &rule(width);
    s += &memory_section(summary, totals);
    s += &rule(width);
    for note in &summary.notes {
        s += &format!("Note: {note}\n");
    }
    s
}
