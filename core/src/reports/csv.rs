//! CSV: one row per module, raw numbers (no separators, no rounding).

use crate::summary::{ModelSummary, TensorValue, role};

/// Quotes a field when it holds a comma, a quote or a line break (RFC 4180).
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub fn line(fields: &[String]) -> String {
    let mut s = fields
        .iter()
        .map(|f| field(f))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    s
}

fn opt(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

const HEADER: [&str; 19] = [
    "depth",
    "index",
    "path",
    "type",
    "qualified_type",
    "kind",
    "output_shapes",
    "calls",
    "repeat_output_shapes",
    "own_params",
    "subtree_params",
    "subtree_trainable_params",
    "share_of_params",
    "buffers",
    "mult_adds",
    "op_mult_adds",
    "tied_params",
    "role",
    "subtree_op_mult_adds",
];

/// One call's outputs: `1x64x224x224`, several outputs separated by `;`.
fn shapes(outputs: &[TensorValue]) -> String {
    outputs
        .iter()
        .map(|v| {
            v.shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x")
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// `role` is where the module's parameters sit (see [`role::classify`]); `op_mult_adds` counts its own
/// code, `subtree_op_mult_adds` its children too. `output_shapes` is the first call's; a module called more than once has `calls` > 1 and the
/// later calls' shapes in `repeat_output_shapes`, calls separated by `|`.
pub fn render(summary: &ModelSummary) -> String {
    let totals = summary.totals();
    let roles = role::classify(&summary.root);
    let mut s = line(&HEADER.map(String::from));
    for (depth, index, node) in summary.root.walk_indexed() {
        let first = node.outputs.as_deref().map(shapes).unwrap_or_default();
        let repeats = node
            .repeat_outputs
            .iter()
            .map(|call| shapes(call))
            .collect::<Vec<_>>()
            .join("|");
        let buffers: u64 = node.buffers.iter().map(|b| b.numel()).sum();
        let tied: u64 = node
            .parameters
            .iter()
            .filter(|p| p.is_tied())
            .map(|p| p.numel())
            .sum();
        s += &line(&[
            depth.to_string(),
            index.to_string(),
            node.path.clone(),
            node.type_name.clone(),
            node.qualified_type.clone().unwrap_or_default(),
            node.kind.name().to_string(),
            first,
            opt(node
                .calls_known(summary)
                .then(|| node.calls().count() as u64)),
            repeats,
            node.own_params().to_string(),
            node.subtree_params().to_string(),
            node.subtree_trainable_params().to_string(),
            format!("{}", totals.percent(node.subtree_params()) / 100.0),
            buffers.to_string(),
            opt(node.mult_adds),
            opt(node.op_mult_adds),
            tied.to_string(),
            roles.of(&node.path).key().to_string(),
            opt(node.subtree_op_mult_adds()),
        ]);
    }
    s
}
