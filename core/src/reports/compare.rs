//! Several models side by side: where their parameters sit, their heads, and what they cost.

use super::csv;
use super::footer::shape_text;
use super::json::{SCHEMA_VERSION, summary_json};
use super::markdown::pipe_table;
use super::vgg_names::paper_names;
use crate::dtype::DType;
use crate::memory::{self, Optimizer, Precision};
use crate::summary::head::find_head;
use crate::summary::{LayerKind, ModelSummary, Totals};
use crate::units::{binary, si, thousands};
use prettytable::format::{FormatBuilder, LinePosition, LineSeparator};
use prettytable::{Cell, Row, Table};
use serde_json::json;

/// Rows of the comparison: a label, then one cell per model.
pub struct Comparison {
    pub models: Vec<String>,
    pub rows: Vec<(String, Vec<String>)>,
    /// A sentence or two on what stands out.
    pub remarks: Vec<String>,
}

fn share(totals: &Totals, n: u64) -> String {
    format!("{} ({:.1}%)", thousands(n), totals.percent(n))
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
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&ModelSummary, &Totals) -> String| {
        rows.push((
            label.to_string(),
            summaries
                .iter()
                .zip(&totals)
                .map(|(s, t)| f(s, t))
                .collect(),
        ));
    };
    row("Class", &|s, _| s.root.type_name.clone());
    row("Total params", &|_, t| thousands(t.params));
    row("Trainable params", &|_, t| thousands(t.trainable));
    row("Buffers", &|_, t| thousands(t.buffers));
    row("Layers with parameters", &|s, _| {
        layers_with_params(s).to_string()
    });
    let kinds: Vec<LayerKind> = LayerKind::ALL
        .into_iter()
        .filter(|k| {
            matches!(
                k,
                LayerKind::Linear
                    | LayerKind::Convolution
                    | LayerKind::Normalization
                    | LayerKind::Embedding
                    | LayerKind::Other
            ) || totals.iter().any(|t| t.kind_params(*k) > 0)
        })
        .filter(|k| *k != LayerKind::Container)
        .collect();
    for kind in kinds {
        row(&format!("  {}", kind.name()), &|_, t| {
            share(t, t.kind_params(kind))
        });
    }
    row("Head", &|s, _| find_head(&s.root).describe());
    row("  head params", &|s, t| share(t, find_head(&s.root).params));
    row("Largest layer", &|s, t| match t.largest.first() {
        Some(l) => {
            let name = paper_names(s)
                .get(&l.path)
                .map(|p| format!("{p} "))
                .unwrap_or_default();
            format!("{name}{} {}", l.path, l.type_name)
        }
        None => "--".to_string(),
    });
    row("  its params", &|_, t| {
        t.largest
            .first()
            .map_or("--".to_string(), |l| share(t, l.params))
    });
    row("Input", &|s, _| {
        let inputs: Vec<String> = s.inputs.iter().map(|i| shape_text(&i.shape)).collect();
        if inputs.is_empty() {
            "--".to_string()
        } else {
            inputs.join(", ")
        }
    });
    row("Mult-adds (torchinfo)", &|_, t| {
        t.mult_adds.map_or("--".to_string(), si)
    });
    if totals.iter().any(|t| t.op_mult_adds.is_some()) {
        row("Mult-adds (operators)", &|_, t| {
            t.op_mult_adds.map_or("--".to_string(), si)
        });
    }
    let fp32 =
        |t: &Totals| memory::training(t.params, Precision::Full(DType::Float32), Optimizer::Adam);
    row("Weights, float32", &|_, t| binary(fp32(t).weights));
    row("Adam ×3 (weights + momentum + variance)", &|_, t| {
        binary(fp32(t).without_gradients())
    });
    row("Full training ×4 (+ gradients)", &|_, t| {
        binary(fp32(t).total())
    });
    row("Activations ×2 (torchinfo)", &|_, t| {
        t.activations
            .map_or("--".to_string(), |a| binary(a.torchinfo_bytes))
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
    for (s, t) in summaries.iter().zip(totals).skip(1) {
        if t.params == 0 || t0.params == 0 {
            continue;
        }
        out.push(format!(
            "{} has {:.1}× the parameters of {} with {} layers holding parameters against {}.",
            first.name,
            t0.params as f64 / t.params as f64,
            s.name,
            layers_with_params(first),
            layers_with_params(s)
        ));
    }
    for (s, t) in summaries.iter().zip(totals) {
        if let Some(l) = t.largest.first() {
            let name = paper_names(s)
                .get(&l.path)
                .map(|p| format!("{p} ({})", l.path))
                .unwrap_or(l.path.clone());
            out.push(format!(
                "{}: {name} alone holds {:.1}% of the parameters; Linear layers hold {:.1}%.",
                s.name,
                t.percent(l.params),
                t.percent(t.kind_params(LayerKind::Linear))
            ));
        }
    }
    out
}

pub fn render_text(c: &Comparison) -> String {
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
    titles.extend(c.models.iter().map(|m| Cell::new(m).style_spec("r")));
    table.set_titles(Row::new(titles));
    for (label, values) in &c.rows {
        let mut cells = vec![Cell::new(label)];
        cells.extend(values.iter().map(|v| Cell::new(v).style_spec("r")));
        table.add_row(Row::new(cells));
    }
    let mut s: String = table
        .to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    for r in &c.remarks {
        s += r;
        s.push('\n');
    }
    s += "Sizes: KiB, MiB, GiB are powers of 2^10 bytes.\n";
    s
}

pub fn render_markdown(c: &Comparison) -> String {
    let mut header = vec![String::new()];
    header.extend(c.models.iter().cloned());
    let rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|(label, values)| {
            std::iter::once(label.clone())
                .chain(values.iter().cloned())
                .collect()
        })
        .collect();
    let right: Vec<bool> = std::iter::once(false)
        .chain(c.models.iter().map(|_| true))
        .collect();
    let mut s = format!("## {}\n\n", c.models.join(" vs "));
    s += &pipe_table(&header, &rows, &right);
    s.push('\n');
    for r in &c.remarks {
        s += &format!("- {r}\n");
    }
    s
}

/// `metric,<model>,<model>…` with the same cells as the table.
pub fn render_csv(c: &Comparison) -> String {
    let mut header = vec!["metric".to_string()];
    header.extend(c.models.iter().cloned());
    let mut s = csv::line(&header);
    for (label, values) in &c.rows {
        let mut fields = vec![label.trim().to_string()];
        fields.extend(values.iter().cloned());
        s += &csv::line(&fields);
    }
    s
}

/// Schema `tchinfo/compare` version 1: each model's summary document without its module list.
pub fn render_json(summaries: &[ModelSummary]) -> String {
    let models: Vec<_> = summaries
        .iter()
        .map(|s| {
            let mut doc = summary_json(s);
            doc.modules = None;
            doc
        })
        .collect();
    let doc = json!({
        "schema": "tchinfo/compare",
        "schema_version": SCHEMA_VERSION,
        "tchinfo_version": env!("CARGO_PKG_VERSION"),
        "models": models,
    });
    super::json::to_string(&doc)
}
