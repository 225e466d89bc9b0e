//! Several models side by side: where their parameters sit, their heads, and what they cost.

use super::csv;
use super::footer::shape_text;
use super::json::{SCHEMA_VERSION, summary_json};
use super::markdown::{one_line, pipe_table};
use super::vgg_names::paper_names;
use crate::dtype::DType;
use crate::memory::{self, Optimizer, Precision};
use crate::summary::head::find_head;
use crate::summary::{ModelSummary, Role, Totals};
use crate::units::{binary, si, thousands};
use prettytable::format::{FormatBuilder, LinePosition, LineSeparator};
use prettytable::{Cell, Row, Table};
use serde_json::json;

/// compare's rows for the summary's memory lines, short enough for four models in 120 columns; the
/// remarks under the table spell out ×3 and ×4.
pub const ADAM_ROW: &str = "Adam, weights + state ×3";
pub const FULL_TRAINING_ROW: &str = "Full training ×4";
/// The width a comparison of up to four models fits in.
pub const MAX_WIDTH: usize = 120;

/// One model's cell: the value itself, so each format writes it its own way (the table rounds and
/// groups digits; CSV carries raw counts and bytes).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    /// A count (parameters, layers, buffer elements).
    Count(u64),
    /// A count and its share of all parameters, in percent.
    Share(u64, f64),
    /// Mult-adds, rounded with SI prefixes in the table.
    MultAdds(u64),
    Bytes(u64),
    /// Not measured, or nothing to show (`--`).
    Missing,
}

impl Value {
    /// As the table and Markdown show it.
    pub fn display(&self) -> String {
        match self {
            Value::Text(t) => super::name(t, super::MAX_CELL),
            Value::Count(n) => thousands(*n),
            Value::Share(n, percent) => format!("{} ({percent:.1}%)", thousands(*n)),
            Value::MultAdds(n) => si(*n),
            Value::Bytes(b) => binary(*b),
            Value::Missing => "--".to_string(),
        }
    }

    /// As CSV carries it: the raw number (or the text), empty when missing.
    pub fn raw(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Count(n) | Value::Share(n, _) | Value::MultAdds(n) | Value::Bytes(n) => {
                n.to_string()
            }
            Value::Missing => String::new(),
        }
    }

    /// The share of all parameters as a fraction, for CSV's share column; empty for other values.
    pub fn share(&self) -> String {
        match self {
            // As JSON writes shares.
            Value::Share(_, percent) => (percent / 100.0).to_string(),
            _ => String::new(),
        }
    }
}

/// One metric across the models.
pub struct MetricRow {
    /// As the table shows it; a leading indent marks a detail of the row above.
    pub label: String,
    /// What CSV's numbers count: `params`, `bytes`, `mult-adds`, `layers`, `elements`; empty for text.
    pub unit: &'static str,
    pub values: Vec<Value>,
}

/// Rows of the comparison: a label, then one value per model.
pub struct Comparison {
    pub models: Vec<String>,
    pub rows: Vec<MetricRow>,
    /// A sentence or two on what stands out.
    pub remarks: Vec<String>,
}

fn share(totals: &Totals, n: u64) -> Value {
    Value::Share(n, totals.percent(n))
}

fn layers_with_params(s: &ModelSummary) -> usize {
    s.root
        .walk()
        .iter()
        .filter(|(_, n)| n.own_params() > 0)
        .count()
}

pub fn compare(summaries: &[ModelSummary]) -> Comparison {
    let totals: Vec<Totals> = summaries.iter().map(ModelSummary::totals).collect();
    let mut rows: Vec<MetricRow> = Vec::new();
    let mut row = |label: &str, unit: &'static str, f: &dyn Fn(&ModelSummary, &Totals) -> Value| {
        rows.push(MetricRow {
            label: label.to_string(),
            unit,
            values: summaries
                .iter()
                .zip(&totals)
                .map(|(s, t)| f(s, t))
                .collect(),
        });
    };
    row("Class", "", &|s, _| Value::Text(s.root.type_name.clone()));
    row("Total params", "params", &|_, t| Value::Count(t.params));
    row("Trainable params", "params", &|_, t| {
        Value::Count(t.trainable)
    });
    row("Buffers", "elements", &|_, t| Value::Count(t.buffers));
    row("Layers with parameters", "layers", &|s, _| {
        Value::Count(layers_with_params(s) as u64)
    });
    // Roles line up across models: every role any of them has, in one order.
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| totals.iter().any(|t| t.role_params(*r) > 0))
        .collect();
    for role in roles {
        row(&format!("  {}", role.name()), "params", &|_, t| {
            share(t, t.role_params(role))
        });
    }
    row("Head", "", &|s, _| {
        Value::Text(find_head(&s.root).describe())
    });
    row("  head params", "params", &|s, t| {
        share(t, find_head(&s.root).params)
    });
    row("Largest layer", "", &|s, t| match t.largest.first() {
        Some(l) => {
            let name = paper_names(s)
                .get(&l.path)
                .map(|p| format!("{p} "))
                .unwrap_or_default();
            Value::Text(format!("{name}{} {}", l.path, l.type_name))
        }
        None => Value::Missing,
    });
    row("  its params", "params", &|_, t| {
        t.largest
            .first()
            .map_or(Value::Missing, |l| share(t, l.params))
    });
    row("Input", "", &|s, _| {
        let inputs: Vec<String> = s.inputs.iter().map(|i| shape_text(&i.shape)).collect();
        if inputs.is_empty() {
            Value::Missing
        } else {
            Value::Text(inputs.join(", "))
        }
    });
    // The operator count is the one models are ranked by; torchinfo's follows, labelled.
    if totals.iter().any(|t| t.op_mult_adds.is_some()) {
        row("Mult-adds (operators)", "mult-adds", &|_, t| {
            t.op_mult_adds.map_or(Value::Missing, Value::MultAdds)
        });
    }
    row("Mult-adds (torchinfo)", "mult-adds", &|_, t| {
        t.mult_adds.map_or(Value::Missing, Value::MultAdds)
    });
    // Gradients and Adam state for trainable parameters only; Missing only if a figure overflows 64 bits.
    let fp32 = |t: &Totals, figure: fn(&memory::TrainingMemory) -> Option<u64>| {
        figure(&memory::training_of(
            t.params,
            t.trainable,
            Precision::Full(DType::Float32),
            Optimizer::Adam,
        ))
        .map_or(Value::Missing, Value::Bytes)
    };
    row("Weights, float32", "bytes", &|_, t| fp32(t, |m| m.weights));
    row(ADAM_ROW, "bytes", &|_, t| {
        fp32(t, memory::TrainingMemory::without_gradients)
    });
    row(FULL_TRAINING_ROW, "bytes", &|_, t| {
        fp32(t, memory::TrainingMemory::total)
    });
    row("Activations ×2 (torchinfo)", "bytes", &|_, t| {
        t.activations
            .map_or(Value::Missing, |a| Value::Bytes(a.torchinfo_bytes))
    });

    Comparison {
        models: summaries.iter().map(|s| s.name.clone()).collect(),
        rows,
        remarks: remarks(summaries, &totals),
    }
}

/// What a reader should notice: how the first model compares with each other one, and where its
/// largest layer sits.
fn remarks(summaries: &[ModelSummary], totals: &[Totals]) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(first), Some(t0)) = (summaries.first(), totals.first()) else {
        return out;
    };
    let shown = |s: &ModelSummary| super::name(&s.name, super::MAX_CELL);
    for (s, t) in summaries.iter().zip(totals).skip(1) {
        if t.params == 0 || t0.params == 0 {
            continue;
        }
        out.push(format!(
            "{} has {:.1}× the parameters of {} with {} layers holding parameters against {}.",
            shown(first),
            t0.params as f64 / t.params as f64,
            shown(s),
            layers_with_params(first),
            layers_with_params(s)
        ));
    }
    for (s, t) in summaries.iter().zip(totals) {
        // The ×3 and ×4 rows count gradients and Adam state for trainable parameters only, as the
        // summary footer says; without this a frozen backbone would read as a smaller model.
        if t.trainable < t.params {
            out.push(format!(
                "{}: gradients and Adam state count its {} trainable params only ({} frozen).",
                shown(s),
                thousands(t.trainable),
                thousands(t.params - t.trainable)
            ));
        }
        if let Some(l) = t.largest.first() {
            let name = paper_names(s)
                .get(&l.path)
                .map(|p| format!("{p} ({})", l.path))
                .unwrap_or(l.path.clone());
            let name = super::name(&name, super::MAX_CELL);
            let mut text = format!(
                "{}: {name} alone holds {:.1}% of the parameters",
                shown(s),
                t.percent(l.params)
            );
            if let Some(top) = t.by_role.iter().max_by_key(|r| r.params) {
                text += &format!(
                    "; {} layers hold {:.1}%",
                    top.role.name(),
                    t.percent(top.params)
                );
            }
            out.push(text + ".");
        }
    }
    out.extend(ranking(summaries, totals));
    out.push(
        "×3 = Adam's weights + momentum + variance; ×4 adds the gradients (trainable parameters only)."
            .to_string(),
    );
    out
}

/// The models by operator mult-adds, cheapest first, each against the cheapest: what a forward pass
/// costs, which torchinfo's parameter-based count does not tell for transformers.
fn ranking(summaries: &[ModelSummary], totals: &[Totals]) -> Option<String> {
    let mut measured: Vec<(&str, u64)> = summaries
        .iter()
        .zip(totals)
        .filter_map(|(s, t)| Some((s.name.as_str(), t.op_mult_adds?)))
        .collect();
    if measured.len() < 2 {
        return None;
    }
    measured.sort_by_key(|(_, m)| *m);
    let cheapest = measured[0].1;
    let parts: Vec<String> = measured
        .iter()
        .enumerate()
        .map(|(i, (name, m))| {
            if i == 0 || cheapest == 0 {
                format!("{name} {}", si(*m))
            } else {
                format!("{name} {} ({:.1}×)", si(*m), *m as f64 / cheapest as f64)
            }
        })
        .collect();
    Some(format!(
        "By operator mult-adds, cheapest first: {}.",
        parts.join(", ")
    ))
}

pub fn render_text(c: &Comparison) -> String {
    // Narrow the model columns, wrapping their text, until the table fits.
    let mut width = widest_cell(c);
    let mut table = table_text(c, width);
    while text_width(&table) > MAX_WIDTH && width > MIN_CELL {
        let excess = text_width(&table) - MAX_WIDTH;
        let step = excess.div_ceil(c.models.len().max(1)).max(1);
        width = width.saturating_sub(step).max(MIN_CELL);
        table = table_text(c, width);
    }
    let mut s = table;
    for r in &c.remarks {
        s += &wrap_prose(r, MAX_WIDTH);
        s.push('\n');
    }
    s += "Sizes: KiB, MiB, GiB are powers of 2^10 bytes.\n";
    s
}

/// A remark broken at spaces only, so names and figures stay whole.
fn wrap_prose(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines.join("\n")
}

/// Model columns are not wrapped below this many characters.
const MIN_CELL: usize = 12;

fn text_width(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

fn widest_cell(c: &Comparison) -> usize {
    c.rows
        .iter()
        .flat_map(|r| r.values.iter().map(|v| v.display().chars().count()))
        .chain(c.models.iter().map(|m| m.chars().count()))
        .max()
        .unwrap_or(0)
}

/// The table with every model cell wrapped to `width` characters (breaking after spaces, dots and
/// slashes, and inside a word only when it alone is wider).
fn table_text(c: &Comparison, width: usize) -> String {
    let mut table = Table::new();
    table.set_format(
        FormatBuilder::new()
            .column_separator(' ')
            .separators(
                &[LinePosition::Top, LinePosition::Title, LinePosition::Bottom],
                LineSeparator::new('=', '=', '=', '='),
            )
            .padding(0, 1)
            .build(),
    );
    let mut titles = vec![Cell::new("")];
    titles.extend(c.models.iter().map(|m| {
        Cell::new(&wrap_at(
            &super::name(m, super::MAX_NAME),
            width,
            &['/', ' '],
        ))
        .style_spec("r")
    }));
    table.set_titles(Row::new(titles));
    for r in &c.rows {
        let mut cells = vec![Cell::new(&r.label)];
        cells.extend(
            r.values
                .iter()
                .map(|v| Cell::new(&wrap(&v.display(), width)).style_spec("r")),
        );
        table.add_row(Row::new(cells));
    }
    table
        .to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Greedy word wrap to `width` characters, breaking after a space, a dot or a slash.
pub fn wrap(text: &str, width: usize) -> String {
    wrap_at(text, width, &[' ', '.', '/'])
}

/// Greedy wrap to `width` characters, breaking after any of `breaks` (a file's name keeps its
/// extension: only its folders break off).
fn wrap_at(text: &str, width: usize, breaks: &[char]) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    // Pieces that end where a line may break.
    let mut pieces: Vec<String> = Vec::new();
    let mut piece = String::new();
    for ch in text.chars() {
        piece.push(ch);
        if breaks.contains(&ch) {
            pieces.push(std::mem::take(&mut piece));
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for piece in pieces {
        let mut piece = piece;
        loop {
            let free = width.saturating_sub(line.trim_end().chars().count());
            if piece.trim_end().chars().count() <= free {
                line.push_str(&piece);
                break;
            }
            if !line.is_empty() {
                lines.push(line.trim_end().to_string());
                line.clear();
                continue;
            }
            // A piece wider than a whole line is cut.
            let head: String = piece.chars().take(width).collect();
            piece = piece.chars().skip(width).collect();
            lines.push(head);
            if piece.is_empty() {
                break;
            }
        }
    }
    if !line.trim_end().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines.join("\n")
}

pub fn render_markdown(c: &Comparison) -> String {
    let mut header = vec![String::new()];
    header.extend(c.models.iter().map(|m| super::name(m, super::MAX_NAME)));
    let rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|r| {
            std::iter::once(r.label.clone())
                .chain(r.values.iter().map(Value::display))
                .collect()
        })
        .collect();
    let right: Vec<bool> = std::iter::once(false)
        .chain(c.models.iter().map(|_| true))
        .collect();
    let names: Vec<String> = c
        .models
        .iter()
        .map(|m| super::name(m, super::MAX_NAME))
        .collect();
    let mut s = format!("## {}\n\n", one_line(&names.join(" vs ")));
    s += &pipe_table(&header, &rows, &right);
    s.push('\n');
    for r in &c.remarks {
        s += &format!("- {}\n", one_line(r));
    }
    s
}

/// `metric,unit,<model>,<model> share,…`: raw counts and bytes (no digit grouping, no rounding, no
/// units in the cells), and beside each model its share of all parameters as a fraction (0..1) for the
/// rows that have one. Text rows (class, head, largest layer, input) carry their text.
pub fn render_csv(c: &Comparison) -> String {
    let mut header = vec!["metric".to_string(), "unit".to_string()];
    for m in &c.models {
        header.push(m.clone());
        header.push(format!("{m} share"));
    }
    let mut s = csv::line(&header);
    for r in &c.rows {
        let mut fields = vec![r.label.trim().to_string(), r.unit.to_string()];
        for v in &r.values {
            fields.push(v.raw());
            fields.push(v.share());
        }
        s += &csv::line(&fields);
    }
    s
}

/// Schema `tchinfo/compare` version 1: each model's summary document, with its module list only when
/// `modules` is set (the HTML report draws each model's tree; the JSON report leaves it out).
pub fn compare_document(summaries: &[ModelSummary], modules: bool) -> serde_json::Value {
    let models: Vec<_> = summaries
        .iter()
        .map(|s| {
            let mut doc = summary_json(s);
            if !modules {
                doc.modules = None;
            }
            doc
        })
        .collect();
    json!({
        "schema": "tchinfo/compare",
        "schema_version": SCHEMA_VERSION,
        "tchinfo_version": env!("CARGO_PKG_VERSION"),
        "models": models,
    })
}

/// The `tchinfo/compare` document without module lists.
pub fn render_json(summaries: &[ModelSummary]) -> String {
    super::json::to_string(&compare_document(summaries, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{ModuleNode, SourceKind, TensorRecord};

    /// One Linear leaf: `frozen` parameters without gradients, `trainable` with.
    fn model(name: &str, frozen: u64, trainable: u64) -> ModelSummary {
        let mut fc = ModuleNode::new("fc", "fc", "Linear");
        fc.parameters = vec![
            TensorRecord::new("weight", vec![frozen], DType::Float32, false),
            TensorRecord::new("bias", vec![trainable], DType::Float32, true),
        ];
        let mut root = ModuleNode::new("", "", "Net");
        root.children.push(fc);
        ModelSummary::new(name, SourceKind::TorchScript, root)
    }

    #[test]
    fn long_cells_wrap_at_spaces_dots_and_slashes() {
        assert_eq!(
            wrap("global average pooling + 1 Linear", 20),
            "global average\npooling + 1 Linear"
        );
        assert_eq!(
            wrap("model.layers.0.mlp.experts", 12),
            "model.\nlayers.0.\nmlp.experts"
        );
        assert_eq!(wrap("abcdefghij", 4), "abcd\nefgh\nij");
        assert_eq!(
            wrap_at("models/mixtral_tiny.pt", 20, &['/', ' ']),
            "models/\nmixtral_tiny.pt"
        );
    }

    #[test]
    fn frozen_parameters_are_remarked_beside_the_training_rows() {
        let c = compare(&[model("a", 0, 10), model("b", 1_408, 709)]);
        let frozen: Vec<&String> = c.remarks.iter().filter(|r| r.contains("frozen")).collect();
        assert_eq!(
            frozen,
            ["b: gradients and Adam state count its 709 trainable params only (1,408 frozen)."]
        );
        let full = c
            .rows
            .iter()
            .find(|r| r.label == FULL_TRAINING_ROW)
            .unwrap();
        assert_eq!(full.values[1], Value::Bytes(2_117 * 4 + 709 * 12));
        assert!(render_markdown(&c).contains("- b: gradients and Adam state"));
    }
}
