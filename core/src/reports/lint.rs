//! The redundant-bias findings as text, and the one-line mention under the summary.

use super::csv;
use super::json::SCHEMA_VERSION;
use super::markdown::pipe_table;
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

/// The verdict in one sentence (no line break, even when the model's name holds one).
fn verdict(model: &str, report: &BiasReport) -> String {
    let model = super::name(model, super::MAX_CELL);
    if report.findings.is_empty() {
        format!(
            "{model}: no bias feeds a BatchNorm directly ({}).",
            evidence_text(report.evidence)
        )
    } else {
        format!(
            "{model}: {} layer{} with a bias feeding straight into BatchNorm ({}).",
            report.findings.len(),
            if report.findings.len() == 1 { "" } else { "s" },
            evidence_text(report.evidence)
        )
    }
}

const WHY: &str = "BatchNorm subtracts the batch mean and adds its own shift, so these biases learn nothing: \
                   build the layers with bias=False.";

/// Layer, the normalization it feeds, wasted params and bytes: one row per finding. The text table
/// marks the data flow with an arrow and spells out the unit; the Markdown table has headers for both.
fn finding_rows(report: &BiasReport, feeds_prefix: &str, params_suffix: &str) -> Vec<Vec<String>> {
    report
        .findings
        .iter()
        .map(|f| {
            let named = |path: &str, ty: &str| {
                format!(
                    "{} ({})",
                    super::name(path, super::MAX_CELL),
                    super::name(ty, super::MAX_NAME)
                )
            };
            vec![
                named(&f.layer, &f.layer_type),
                format!("{feeds_prefix}{}", named(&f.norm, &f.norm_type)),
                format!("{}{params_suffix}", thousands(f.wasted_params)),
                binary(f.wasted_bytes),
            ]
        })
        .collect()
}

fn total_line(report: &BiasReport) -> String {
    format!(
        "\nTotal saved with bias=False: {} parameters ({}).\n",
        thousands(report.wasted_params()),
        binary(report.wasted_bytes())
    )
}

pub fn render_text(model: &str, report: &BiasReport) -> String {
    let mut s = verdict(model, report) + "\n";
    if report.findings.is_empty() {
        return s;
    }
    s += WHY;
    s += "\n\n";
    let rows = finding_rows(report, "→ ", " params");
    s += &super::footer::aligned(&rows, &[false, false, true, true], "  ");
    s += &total_line(report);
    s
}

pub fn render_markdown(model: &str, report: &BiasReport) -> String {
    let mut s = format!(
        "## Redundant biases in {}\n\n{}\n\n",
        super::name(model, super::MAX_CELL),
        verdict(model, report)
    );
    if report.findings.is_empty() {
        return s;
    }
    s += &format!("{WHY}\n\n");
    let rows = finding_rows(report, "", "");
    s += &pipe_table(
        &["Layer", "Feeds", "Bias params", "Bias size"].map(String::from),
        &rows,
        &[false, false, true, true],
    );
    s += &total_line(report);
    s
}

/// One row per redundant bias, raw numbers; only the header when there is none.
pub fn render_csv(report: &BiasReport) -> String {
    let mut s = csv::line(
        &[
            "layer",
            "layer_type",
            "norm",
            "norm_type",
            "wasted_params",
            "wasted_bytes",
            "evidence",
        ]
        .map(String::from),
    );
    for f in &report.findings {
        s += &csv::line(&[
            f.layer.clone(),
            f.layer_type.clone(),
            f.norm.clone(),
            f.norm_type.clone(),
            f.wasted_params.to_string(),
            f.wasted_bytes.to_string(),
            evidence_key(report.evidence).to_string(),
        ]);
    }
    s
}

/// How the finding was made, as the JSON and CSV of both `lint` and `summary` spell it.
pub(super) fn evidence_key(e: Evidence) -> &'static str {
    match e {
        Evidence::DataFlow => "data_flow",
        Evidence::ModuleOrder => "module_order",
    }
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
        "evidence": evidence_key(report.evidence),
        "redundant_biases": report.findings.iter().map(|f| json!({
            "layer": f.layer, "layer_type": f.layer_type, "norm": f.norm, "norm_type": f.norm_type,
            "wasted_params": f.wasted_params, "wasted_bytes": f.wasted_bytes,
        })).collect::<Vec<_>>(),
        "wasted_params": report.wasted_params(),
    });
    super::json::to_string(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::lint::RedundantBias;

    fn report() -> BiasReport {
        BiasReport {
            evidence: Evidence::DataFlow,
            findings: vec![RedundantBias {
                layer: "conv1".into(),
                layer_type: "Conv2d".into(),
                norm: "bn1".into(),
                norm_type: "BatchNorm2d".into(),
                wasted_params: 8,
                wasted_bytes: 32,
            }],
        }
    }

    #[test]
    fn markdown_and_csv_carry_the_findings() {
        let md = render_markdown("net", &report());
        assert!(md.starts_with("## Redundant biases in net\n"), "{md}");
        assert!(
            md.contains("| conv1 (Conv2d) | bn1 (BatchNorm2d) | 8 | 32 B |"),
            "{md}"
        );
        assert!(md.contains("Total saved with bias=False: 8 parameters (32 B)."));
        let csv = render_csv(&report());
        assert_eq!(
            csv,
            "layer,layer_type,norm,norm_type,wasted_params,wasted_bytes,evidence\n\
             conv1,Conv2d,bn1,BatchNorm2d,8,32,data_flow\n"
        );
        let none = BiasReport {
            evidence: Evidence::ModuleOrder,
            findings: vec![],
        };
        assert_eq!(render_csv(&none).lines().count(), 1);
        assert!(render_markdown("net", &none).contains("no bias feeds a BatchNorm directly"));
    }

    #[test]
    /// A line break in a name is escaped like every control character: the heading stays one line.
    fn a_line_break_in_the_model_name_does_not_break_the_markdown() {
        let md = render_markdown("a\nb.pt", &report());
        assert!(
            md.starts_with("## Redundant biases in a\\nb.pt\n\na\\nb.pt: 1 layer"),
            "{md}"
        );
    }
}
