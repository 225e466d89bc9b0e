//! The redundant-bias findings as text, and the one-line mention under the summary.

use super::json::SCHEMA_VERSION;
use crate::summary::lint::{BiasReport, Evidence};
use crate::units::{binary, thousands};
use serde_json::json;

fn evidence_text(e: Evidence) -> &'static str {
    match e {
        Evidence::DataFlow => "found in the data flow of the forward pass",
        Evidence::ModuleOrder => {
            "found from module order only, as no forward data flow was available: the BatchNorm comes right \
             after the layer in its container"
        }
    }
}

pub fn render_text(model: &str, report: &BiasReport) -> String {
    let mut s = String::new();
    if report.findings.is_empty() {
        s += &format!(
            "{model}: no bias feeds a BatchNorm directly ({}).\n",
            evidence_text(report.evidence)
        );
        return s;
    }
    s += &format!(
        "{model}: {} layer{} with a bias feeding straight into BatchNorm ({}).\n",
        report.findings.len(),
        if report.findings.len() == 1 { "" } else { "s" },
        evidence_text(report.evidence)
    );
    s += "BatchNorm subtracts the batch mean and adds its own shift, so these biases learn nothing: \
          build the layers with bias=False.\n\n";
    let rows: Vec<Vec<String>> = report
        .findings
        .iter()
        .map(|f| {
            vec![
                format!("{} ({})", f.layer, f.layer_type),
                format!("→ {} ({})", f.norm, f.norm_type),
                format!("{} params", thousands(f.wasted_params)),
                binary(f.wasted_bytes),
            ]
        })
        .collect();
    s += &super::footer::aligned(&rows, &[false, false, true, true], "  ");
    let bytes: u64 = report.findings.iter().map(|f| f.wasted_bytes).sum();
    s += &format!(
        "\nTotal saved with bias=False: {} parameters ({}).\n",
        thousands(report.wasted_params()),
        binary(bytes)
    );
    s
}

/// The summary footer's "Redundant bias" line; `None` when nothing is wasted.
pub fn footer_line(report: &BiasReport) -> Option<String> {
    if report.findings.is_empty() {
        return None;
    }
    Some(format!(
        "{} layer{} a bias straight into BatchNorm; bias=False would save {} parameters \
         (`tchinfo lint` lists them; {})",
        report.findings.len(),
        if report.findings.len() == 1 {
            " feeds"
        } else {
            "s feed"
        },
        thousands(report.wasted_params()),
        match report.evidence {
            Evidence::DataFlow => "from the forward data flow",
            Evidence::ModuleOrder => "from module order only",
        }
    ))
}

pub fn render_json(model: &str, report: &BiasReport) -> String {
    let doc = json!({
        "schema": "tchinfo/lint",
        "schema_version": SCHEMA_VERSION,
        "tchinfo_version": env!("CARGO_PKG_VERSION"),
        "model": model,
        "evidence": match report.evidence { Evidence::DataFlow => "data_flow", Evidence::ModuleOrder => "module_order" },
        "redundant_biases": report.findings.iter().map(|f| json!({
            "layer": f.layer, "layer_type": f.layer_type, "norm": f.norm, "norm_type": f.norm_type,
            "wasted_params": f.wasted_params, "wasted_bytes": f.wasted_bytes,
        })).collect::<Vec<_>>(),
        "wasted_params": report.wasted_params(),
    });
    super::json::to_string(&doc)
}
