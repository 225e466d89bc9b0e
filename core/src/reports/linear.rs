//! The Linear calculator's report in every format.

use super::csv;
use super::markdown::pipe_table;
use crate::linear::LinearReport;
use crate::units::{binary, decimal, thousands};
use serde_json::json;
use std::fmt::Write as _;

/// The breakdown as a person would write it.
pub fn render_text(r: &LinearReport) -> String {
    let mut s = String::new();
    let w = |s: &mut String, line: String| {
        s.push_str(&line);
        s.push('\n');
    };
    w(
        &mut s,
        format!(
            "Linear(in_features={}, out_features={}, bias={})",
            r.in_features,
            r.out_features,
            if r.bias { "True" } else { "False" }
        ),
    );
    s.push('\n');
    w(&mut s, "Parameters".into());
    let product = format!(
        "{} × {}",
        thousands(r.out_features),
        thousands(r.in_features)
    );
    let count_width = thousands(r.total_params).len().max(7);
    let label_width = product.len().max(7);
    w(
        &mut s,
        format!(
            "  weight  {product:>label_width$}  {:>count_width$}",
            thousands(r.weight_params)
        ),
    );
    if r.bias {
        w(
            &mut s,
            format!(
                "  bias    {:>label_width$}  {:>count_width$}",
                thousands(r.bias_params),
                thousands(r.bias_params)
            ),
        );
    }
    w(
        &mut s,
        format!(
            "  total   {:>label_width$}  {:>count_width$}",
            "",
            thousands(r.total_params)
        ),
    );
    let bias_bytes = r.bias_cost() * r.dtype.bytes();
    if r.bias {
        w(
            &mut s,
            format!(
                "  bias=False would save {} parameters ({} bytes in {})",
                thousands(r.bias_cost()),
                thousands(bias_bytes),
                r.dtype
            ),
        );
    } else {
        w(
            &mut s,
            format!(
                "  bias=False saves {} parameters ({} bytes in {}) against Linear({}, {})",
                thousands(r.bias_cost()),
                thousands(bias_bytes),
                r.dtype,
                r.in_features,
                r.out_features
            ),
        );
    }
    match r.tch_params {
        Some(n) => w(
            &mut s,
            format!(
                "  checked: a tch::nn::linear layer in a VarStore holds {} parameters",
                thousands(n)
            ),
        ),
        None => w(
            &mut s,
            "  (formula only: the layer is too large to build for a cross-check)".to_string(),
        ),
    }
    s.push('\n');

    let rows = r.memory_rows();
    let label_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let bytes_width = rows.iter().map(|r| thousands(r.1).len()).max().unwrap_or(0);
    let binary_width = rows.iter().map(|r| binary(r.1).len()).max().unwrap_or(0);
    let decimal_width = rows
        .iter()
        .map(|r| decimal(r.1).len() + 2)
        .max()
        .unwrap_or(0);
    w(
        &mut s,
        format!(
            "Memory ({}, {} bytes per parameter; KiB, MiB, GiB: powers of 2^10 bytes; KB, MB, GB: powers \
             of 10^3 bytes)",
            r.dtype,
            r.dtype.bytes()
        ),
    );
    for (label, bytes) in rows {
        let pad = label_width - label.chars().count();
        let _ = writeln!(
            s,
            "  {label}{:pad$}  {:>bytes_width$} B  {:>binary_width$}  {:>decimal_width$}",
            "",
            thousands(bytes),
            binary(bytes),
            format!("({})", decimal(bytes))
        );
    }
    s.push_str(
        "  mixed precision: fp16 weights and gradients, fp32 master weights, momentum and variance \
         (2 + 2 + 4 + 4 + 4 bytes)\n",
    );
    s
}

/// Schema `tchinfo/linear` version 1 (docs/json-schema.md): every figure unrounded, sizes in bytes.
pub fn render_json(r: &LinearReport) -> String {
    let memory: Vec<_> = r
        .memory_rows()
        .into_iter()
        .map(|(label, bytes)| json!({"label": label, "bytes": bytes}))
        .collect();
    let doc = json!({
        "schema": "tchinfo/linear",
        "schema_version": super::json::SCHEMA_VERSION,
        "tchinfo_version": env!("CARGO_PKG_VERSION"),
        "in_features": r.in_features,
        "out_features": r.out_features,
        "bias": r.bias,
        "dtype": r.dtype.name(),
        "weight_params": r.weight_params,
        "bias_params": r.bias_params,
        "total_params": r.total_params,
        "bias_cost_params": r.bias_cost(),
        "tch_params": r.tch_params,
        "memory": {
            "weights_bytes": r.adam.weights,
            "gradients_bytes": r.adam.gradients,
            "adam_state_bytes": r.adam.optimizer_state,
            "adam_weights_momentum_variance_bytes": r.adam.without_gradients(),
            "adam_with_gradients_bytes": r.adam.total(),
            "mixed_precision_adam_bytes": r.adam_mixed.total(),
            "rows": memory,
        },
    });
    super::json::to_string(&doc)
}

fn quantities(r: &LinearReport) -> Vec<(String, u64)> {
    let mut rows = vec![
        ("weight_params".to_string(), r.weight_params),
        ("bias_params".to_string(), r.bias_params),
        ("total_params".to_string(), r.total_params),
    ];
    rows.extend(
        r.memory_rows()
            .into_iter()
            .map(|(label, bytes)| (format!("{label} [bytes]"), bytes)),
    );
    rows
}

/// `quantity,value` rows.
pub fn render_csv(r: &LinearReport) -> String {
    let mut s = csv::line(&["quantity".to_string(), "value".to_string()]);
    for (q, v) in quantities(r) {
        s += &csv::line(&[q, v.to_string()]);
    }
    s
}

pub fn render_markdown(r: &LinearReport) -> String {
    let mut s = format!(
        "## Linear(in_features={}, out_features={}, bias={})\n\n",
        r.in_features,
        r.out_features,
        if r.bias { "True" } else { "False" }
    );
    let params = vec![
        vec!["weight".to_string(), thousands(r.weight_params)],
        vec!["bias".to_string(), thousands(r.bias_params)],
        vec!["total".to_string(), thousands(r.total_params)],
    ];
    s += &pipe_table(
        &["Parameters".to_string(), "Count".to_string()],
        &params,
        &[false, true],
    );
    s.push('\n');
    let memory: Vec<Vec<String>> = r
        .memory_rows()
        .into_iter()
        .map(|(label, bytes)| vec![label, thousands(bytes), binary(bytes), decimal(bytes)])
        .collect();
    s += &pipe_table(
        &[
            format!("Memory ({})", r.dtype),
            "Bytes".to_string(),
            "Binary (2^10)".to_string(),
            "Decimal (10^3)".to_string(),
        ],
        &memory,
        &[false, true, true, true],
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    #[test]
    fn huge_layers_read_in_large_units_with_separators() {
        let r = LinearReport::new(1_000_000, 1_000_000, true, DType::Float16).unwrap();
        let text = render_text(&r);
        // 1,000,001,000,000 parameters × 2 bytes: 1.82 TiB, not millions of MiB.
        assert!(text.contains("2,000,002,000,000 B"), "{text}");
        assert!(
            text.contains("1.82 TiB") && text.contains("(2.00 TB)"),
            "{text}"
        );
        assert!(!text.contains("MiB  ("), "{text}");
        assert!(text.contains(crate::memory::FULL_TRAINING_LABEL));
    }
}
