//! The torchinfo-style layer table: one row per module, folded to a depth.

use crate::summary::{ModelSummary, ModuleNode, Totals};
use crate::units::thousands;
use prettytable::format::{FormatBuilder, LinePosition, LineSeparator};
use prettytable::{Cell, Row, Table};
use std::str::FromStr;

/// A column after the layer column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    OutputShape,
    Params,
    ParamPercent,
    /// Operator mult-adds (torchinfo's count when no operator was measured).
    MultAdds,
    /// torchinfo's parameter-based count.
    TorchinfoMultAdds,
    Trainable,
}

impl Column {
    pub const DEFAULT: [Column; 5] = [
        Column::OutputShape,
        Column::Params,
        Column::ParamPercent,
        Column::MultAdds,
        Column::Trainable,
    ];

    pub fn header(self) -> &'static str {
        match self {
            Column::OutputShape => "Output Shape",
            Column::Params => "Param #",
            Column::ParamPercent => "Param %",
            Column::MultAdds => "Mult-Adds (ops)",
            Column::TorchinfoMultAdds => "Mult-Adds (torchinfo)",
            Column::Trainable => "Trainable",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Column::OutputShape => "output",
            Column::Params => "params",
            Column::ParamPercent => "percent",
            Column::MultAdds => "mult-adds",
            Column::TorchinfoMultAdds => "torchinfo-mult-adds",
            Column::Trainable => "trainable",
        }
    }
}

impl FromStr for Column {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "output" | "output-shape" | "output_size" | "shape" => Column::OutputShape,
            "params" | "param" | "num_params" => Column::Params,
            "percent" | "param-percent" | "params_percent" => Column::ParamPercent,
            "mult-adds" | "mult_adds" | "macs" | "op-mult-adds" => Column::MultAdds,
            "torchinfo-mult-adds" | "torchinfo_mult_adds" | "torchinfo" => {
                Column::TorchinfoMultAdds
            }
            "trainable" => Column::Trainable,
            other => {
                return Err(format!(
                    "unknown column '{other}' (use output, params, percent, mult-adds, \
                     torchinfo-mult-adds, trainable)"
                ));
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct TableOptions {
    /// Rows deeper than this are folded into their ancestor at this depth (root = 0).
    pub max_depth: usize,
    pub columns: Vec<Column>,
    /// Plain ASCII glyphs instead of box drawing.
    pub ascii: bool,
    /// Show each module's local name beside its type: `Conv2d (0): 2-1`.
    pub var_names: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            max_depth: 3,
            columns: Column::DEFAULT.to_vec(),
            ascii: false,
            var_names: false,
        }
    }
}

/// One visible row, before formatting.
struct RowData<'a> {
    depth: usize,
    index: usize,
    node: &'a ModuleNode,
    /// The row stands for its whole subtree because its children are folded away.
    folded: bool,
}

fn rows<'a>(root: &'a ModuleNode, max_depth: usize) -> Vec<RowData<'a>> {
    // Indices count every module at a depth, shown or not, as torchinfo numbers them.
    root.walk_indexed()
        .into_iter()
        .filter(|(depth, _, _)| *depth <= max_depth)
        .map(|(depth, index, node)| RowData {
            depth,
            index,
            node,
            folded: depth == max_depth && !node.is_leaf(),
        })
        .collect()
}

/// The layer cell: the tree glyphs, the type (and name), `depth-index`. The name is at most
/// [`MAX_NAME`](super::MAX_NAME) characters and the glyphs at most
/// [`MAX_DRAWN_DEPTH`](super::MAX_DRAWN_DEPTH) levels wide (deeper rows say how many levels are not
/// drawn: `+4 └─`), so the cell is bounded whatever the tree.
fn layer_label(row: &RowData, opts: &TableOptions) -> String {
    let name = if opts.var_names && !row.node.name.is_empty() {
        format!("{} ({})", row.node.type_name, row.node.name)
    } else {
        row.node.type_name.clone()
    };
    let name = super::name(&name, super::MAX_NAME);
    if row.depth == 0 {
        return name;
    }
    let (branch, pipe, last) = if opts.ascii {
        ("|-", "|    ", "`-")
    } else {
        ("├─", "│    ", "└─")
    };
    let drawn = super::MAX_DRAWN_DEPTH;
    let prefix = if row.depth == 1 {
        branch.to_string()
    } else if row.depth <= drawn {
        format!("{}{last}", pipe.repeat(row.depth - 1))
    } else {
        format!("{}+{} {last}", pipe.repeat(drawn - 1), row.depth - drawn)
    };
    format!("{prefix}{name}: {}-{}", row.depth, row.index)
}

pub fn format_shape(shape: &[u64]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

fn shapes_text(outputs: &[crate::summary::TensorValue]) -> String {
    outputs
        .iter()
        .map(|o| format_shape(&o.shape))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first call's output; a module called several times (a shared ReLU) shows `×N`, or every call's
/// outputs when they differ; at most [`MAX_CELL`](super::MAX_CELL) characters.
fn output_cell(node: &ModuleNode) -> String {
    super::name(&full_output_cell(node), super::MAX_CELL)
}

fn full_output_cell(node: &ModuleNode) -> String {
    let first = match &node.outputs {
        Some(v) if !v.is_empty() => shapes_text(v),
        _ => return "--".to_string(),
    };
    if node.repeat_outputs.is_empty() {
        return first;
    }
    let calls = 1 + node.repeat_outputs.len();
    if node.repeat_outputs.iter().all(|r| shapes_text(r) == first) {
        format!("{first} ×{calls}")
    } else {
        std::iter::once(first)
            .chain(node.repeat_outputs.iter().map(|r| shapes_text(r)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Parameters the row stands for: its subtree when folded or a leaf, its own when its children are shown.
fn row_params(row: &RowData) -> u64 {
    if row.folded || row.node.is_leaf() {
        row.node.subtree_params()
    } else {
        row.node.own_params()
    }
}

fn params_cell(row: &RowData) -> String {
    let n = row_params(row);
    if n > 0 {
        thousands(n)
    } else if row.node.parameters.iter().any(|p| p.is_tied()) {
        "(tied)".to_string()
    } else {
        "--".to_string()
    }
}

/// A percentage with a bar of up to ten cells, so heavy layers stand out.
pub fn percent_bar(percent: f64, ascii: bool) -> String {
    const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let cells = (percent.clamp(0.0, 100.0) / 10.0 * 8.0).round() as usize;
    let bar = if ascii {
        "#".repeat((cells + 4) / 8)
    } else {
        format!("{}{}", "█".repeat(cells / 8), EIGHTHS[cells % 8])
    };
    format!("{percent:>6.2}% {bar}")
}

fn percent_cell(row: &RowData, totals: &Totals, ascii: bool) -> String {
    let n = row_params(row);
    if n == 0 {
        "--".to_string()
    } else {
        percent_bar(totals.percent(n), ascii)
    }
}

/// torchinfo's count: a leaf's mult-adds (every call), a folded row's sum over its leaves; a container
/// whose children are shown prints `--`, as torchinfo does: its own parameters (MultiheadAttention's
/// `in_proj_weight`) are not in the total, so a number there would add up to more than the total.
fn torchinfo_mult_adds_cell(row: &RowData) -> String {
    let m = if row.folded || row.node.is_leaf() {
        row.node.subtree_mult_adds()
    } else {
        None
    };
    match m {
        Some(m) if m > 0 => thousands(m),
        _ => "--".to_string(),
    }
}

/// Operator mult-adds: a leaf's or a folded row's whole subtree; a container whose children are shown
/// its own code alone (the attention product between its projections), so the column adds up to the
/// total.
fn op_mult_adds_cell(row: &RowData) -> String {
    let m = if row.folded || row.node.is_leaf() {
        row.node.subtree_op_mult_adds()
    } else {
        row.node.op_mult_adds
    };
    match m {
        Some(m) if m > 0 => thousands(m),
        _ => "--".to_string(),
    }
}

fn trainable_cell(row: &RowData) -> String {
    let (all, trainable) = if row.folded || row.node.is_leaf() {
        (
            row.node.subtree_params(),
            row.node.subtree_trainable_params(),
        )
    } else {
        let own = row.node.own_params();
        let t = row
            .node
            .parameters
            .iter()
            .filter(|p| !p.is_tied() && p.requires_grad)
            .map(|p| p.numel())
            .sum();
        (own, t)
    };
    if all == 0 {
        "--"
    } else if trainable == all {
        "True"
    } else if trainable == 0 {
        "False"
    } else {
        "Partial"
    }
    .to_string()
}

/// Header and cells of every visible row, as strings; `right[c]` marks numeric columns.
pub struct Cells {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub right: Vec<bool>,
}

pub fn cells(summary: &ModelSummary, totals: &Totals, opts: &TableOptions) -> Cells {
    // A source that measured no operator (a VarStore) still has torchinfo's count: the default
    // column shows that, and says so in its header.
    let operators = totals.op_mult_adds.is_some();
    let mut header = vec!["Layer (type:depth-idx)".to_string()];
    header.extend(opts.columns.iter().map(|c| match c {
        Column::MultAdds if !operators => Column::TorchinfoMultAdds.header().to_string(),
        c => c.header().to_string(),
    }));
    let mut right = vec![false];
    right.extend(opts.columns.iter().map(|c| {
        matches!(
            c,
            Column::Params | Column::MultAdds | Column::TorchinfoMultAdds
        )
    }));
    let rows = rows(&summary.root, opts.max_depth)
        .iter()
        .map(|row| {
            let mut cells = vec![layer_label(row, opts)];
            cells.extend(opts.columns.iter().map(|column| match column {
                Column::OutputShape => output_cell(row.node),
                Column::Params => params_cell(row),
                Column::ParamPercent => percent_cell(row, totals, opts.ascii),
                Column::MultAdds if operators => op_mult_adds_cell(row),
                Column::MultAdds | Column::TorchinfoMultAdds => torchinfo_mult_adds_cell(row),
                Column::Trainable => trainable_cell(row),
            }));
            cells
        })
        .collect();
    Cells {
        header,
        rows,
        right,
    }
}

/// The table alone (no footer), as prettytable renders it.
pub fn render(summary: &ModelSummary, totals: &Totals, opts: &TableOptions) -> String {
    let cells = cells(summary, totals, opts);
    let mut table = Table::new();
    let rule = LineSeparator::new('=', '=', '=', '=');
    table.set_format(
        FormatBuilder::new()
            .column_separator(' ')
            .separators(
                &[LinePosition::Top, LinePosition::Title, LinePosition::Bottom],
                rule,
            )
            .padding(0, 1)
            .build(),
    );
    table.set_titles(Row::new(
        cells.header.iter().map(|h| Cell::new(h)).collect(),
    ));
    for row in &cells.rows {
        table.add_row(Row::new(
            row.iter()
                .zip(&cells.right)
                .map(|(text, &right)| {
                    if right {
                        Cell::new(text).style_spec("r")
                    } else {
                        Cell::new(text)
                    }
                })
                .collect(),
        ));
    }
    // prettytable pads the last column; trailing spaces only get in the way of diffs and golden files.
    table
        .to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
