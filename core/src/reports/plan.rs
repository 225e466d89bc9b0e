//! The capacity plan in every format: table (plain text), JSON, CSV and Markdown.

use super::csv;
use super::footer::aligned;
use super::json::SCHEMA_VERSION;
use super::markdown::{one_line, pipe_table};
use crate::plan::{Fit, Plan};
use crate::units::{binary, both, decimal, thousands};
use serde_json::json;

/// What a figure that does not fit in 64 bits prints instead of a number.
const OVERFLOWS: &str = "overflows 64 bits";

fn heading(p: &Plan) -> String {
    let o = &p.options;
    let mode = if o.inference {
        "inference".to_string()
    } else {
        format!("training with {}", o.optimizer)
    };
    format!(
        "Memory plan for {}: {mode}, {}, batch {}",
        super::name(&p.model, super::MAX_CELL),
        o.precision.name(),
        p.batch()
    )
}

/// (label, bytes) in print order; `None` bytes overflow 64 bits.
fn rows(p: &Plan) -> Vec<(String, Option<u64>)> {
    let o = &p.options;
    let mut rows = vec![(
        format!("weights ({} params)", thousands(p.params)),
        p.state.weights,
    )];
    if !o.inference {
        let gradients = if p.trainable == p.params {
            "gradients".to_string()
        } else {
            format!("gradients ({} trainable params)", thousands(p.trainable))
        };
        rows.push((gradients, p.state.gradients));
        rows.push((
            format!("optimizer state ({})", o.optimizer.state_description()),
            p.state.optimizer_state,
        ));
        if matches!(o.precision, crate::memory::Precision::Mixed(_)) {
            rows.push(("float32 master weights".to_string(), p.state.master_weights));
        }
    }
    let act_label = if o.inference {
        format!(
            "activations, batch {} (largest live: 2 × largest layer output)",
            p.batch()
        )
    } else {
        format!(
            "activations, batch {} (every leaf layer's output, kept for backward)",
            p.batch()
        )
    };
    rows.push((act_label, Some(p.activations_at_batch())));
    rows.push(("total".to_string(), p.total));
    rows
}

fn or_overflow(bytes: Option<u64>, f: fn(u64) -> String) -> String {
    bytes.map_or(OVERFLOWS.to_string(), f)
}

/// The sentences under the table: what dominates, how activations were measured, the budget.
fn remarks(p: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some((what, bytes)), Some(total)) = (p.dominant(), p.total) {
        let share = if total == 0 {
            0.0
        } else {
            bytes as f64 * 100.0 / total as f64
        };
        out.push(format!("Dominated by {what}: {share:.1}% of the total."));
    }
    let [m1, m2] = p.measured;
    let per_sample = format!(
        "{} per sample, {} fixed",
        binary(p.activations.per_sample.max(0) as u64),
        binary(p.activations.fixed.max(0) as u64)
    );
    if p.rescaled() {
        let run: Vec<&str> = p.run_dtypes.iter().map(|d| d.name()).collect();
        let counted = p.options.activation_dtype();
        out.push(format!(
            "Activations measured at batch {} ({}) and {} ({}) as run in {}; counted in {} ({} B per \
             element): {per_sample}.",
            m1.batch,
            binary(m1.as_run),
            m2.batch,
            binary(m2.as_run),
            run.join(", "),
            counted.name(),
            counted.bytes()
        ));
    } else {
        out.push(format!(
            "Activations measured at batch {} ({}) and {} ({}): {per_sample}.",
            m1.batch,
            binary(m1.bytes),
            m2.batch,
            binary(m2.bytes)
        ));
    }
    if let (Some(fit), Some(budget)) = (&p.fit, p.options.budget) {
        let budget = both(budget);
        out.push(match fit {
            Fit::Largest { batch, total } => format!(
                "Budget {budget}: the largest batch that fits is {batch} (needs {}).",
                binary(*total)
            ),
            Fit::NotEvenOne { needed_at_one } => format!(
                "Budget {budget}: not even batch 1 fits (it needs {}).",
                or_overflow(*needed_at_one, binary)
            ),
            Fit::Unbounded => {
                format!("Budget {budget}: activations do not grow with the batch.")
            }
        });
    }
    out
}

const CONVENTIONS: &str = "Conventions: ×3 = Adam's weights + momentum + variance, ×4 adds gradients; frozen \
     parameters keep their weights only; mixed precision keeps 16-bit weights and gradients, float32 master \
     weights and optimizer state (16 B/param for Adam), and counts activations at 2 bytes per element. \
     KiB/MiB/GiB = 2^10/2^20/2^30 bytes; KB/MB/GB = 10^3/10^6/10^9.";

pub fn render_text(p: &Plan) -> String {
    let mut s = heading(p) + "\n\n";
    let table: Vec<Vec<String>> = rows(p)
        .into_iter()
        .map(|(label, bytes)| match bytes {
            Some(b) => vec![label, binary(b), decimal(b)],
            None => vec![label, OVERFLOWS.to_string(), String::new()],
        })
        .collect();
    s += &aligned(&table, &[false, true, true], "  ");
    s.push('\n');
    for r in remarks(p) {
        s += &r;
        s.push('\n');
    }
    s += "\n";
    s += CONVENTIONS;
    s.push('\n');
    s
}

pub fn render_markdown(p: &Plan) -> String {
    // The model's name is a file name, which may hold a line break: the heading must stay one line.
    let mut s = format!("## {}\n\n", one_line(&heading(p)));
    let table: Vec<Vec<String>> = rows(p)
        .into_iter()
        .map(|(label, bytes)| {
            vec![
                label,
                or_overflow(bytes, binary),
                or_overflow(bytes, decimal),
                or_overflow(bytes, thousands),
            ]
        })
        .collect();
    s += &pipe_table(
        &[
            "Memory".to_string(),
            "Binary (2^10)".to_string(),
            "Decimal (10^3)".to_string(),
            "Bytes".to_string(),
        ],
        &table,
        &[false, true, true, true],
    );
    s.push('\n');
    for r in remarks(p) {
        s += &format!("- {r}\n");
    }
    s += &format!("\n{CONVENTIONS}\n");
    s
}

/// `quantity,value` rows, raw numbers; a value that overflows 64 bits (or does not apply) is empty.
pub fn render_csv(p: &Plan) -> String {
    let o = &p.options;
    let (largest, needed) = match &p.fit {
        Some(Fit::Largest { batch, total }) => (Some(*batch), Some(*total)),
        Some(Fit::NotEvenOne { needed_at_one }) => (Some(0), *needed_at_one),
        _ => (None, None),
    };
    let fields: [(&str, Option<String>); 17] = [
        ("model", Some(p.model.clone())),
        (
            "mode",
            Some(if o.inference { "inference" } else { "training" }.to_string()),
        ),
        ("optimizer", Some(o.optimizer.name().to_string())),
        ("precision", Some(o.precision.name())),
        ("batch_size", Some(p.batch().to_string())),
        ("params", Some(p.params.to_string())),
        ("trainable_params", Some(p.trainable.to_string())),
        ("weights_bytes", p.state.weights.map(|v| v.to_string())),
        ("gradients_bytes", p.state.gradients.map(|v| v.to_string())),
        (
            "optimizer_state_bytes",
            p.state.optimizer_state.map(|v| v.to_string()),
        ),
        (
            "master_weights_bytes",
            p.state.master_weights.map(|v| v.to_string()),
        ),
        (
            "activations_bytes",
            Some(p.activations_at_batch().to_string()),
        ),
        (
            "activations_per_sample_bytes",
            Some(p.activations.per_sample.to_string()),
        ),
        ("total_bytes", p.total.map(|v| v.to_string())),
        ("budget_bytes", o.budget.map(|v| v.to_string())),
        ("largest_batch", largest.map(|v| v.to_string())),
        ("needed_bytes", needed.map(|v| v.to_string())),
    ];
    let mut s = csv::line(&["quantity".to_string(), "value".to_string()]);
    for (q, v) in fields {
        s += &csv::line(&[q.to_string(), v.unwrap_or_default()]);
    }
    s
}

/// The `tchinfo/plan` document, which the JSON report prints and the HTML report embeds.
pub fn plan_document(p: &Plan) -> serde_json::Value {
    let o = &p.options;
    let fit = p.fit.as_ref().map(|f| match f {
        Fit::Largest { batch, total } => json!({"largest_batch": batch, "total_bytes": total}),
        Fit::NotEvenOne { needed_at_one } => {
            json!({"largest_batch": 0, "needed_at_batch_1_bytes": needed_at_one})
        }
        Fit::Unbounded => json!({"largest_batch": null, "unbounded": true}),
    });
    json!({
        "schema": "tchinfo/plan",
        "schema_version": SCHEMA_VERSION,
        "tchinfo_version": env!("CARGO_PKG_VERSION"),
        "model": p.model,
        "mode": if o.inference { "inference" } else { "training" },
        "optimizer": o.optimizer.name(),
        "precision": o.precision.name(),
        "batch_size": p.batch(),
        "params": p.params,
        "trainable_params": p.trainable,
        "weights_bytes": p.state.weights,
        "gradients_bytes": p.state.gradients,
        "optimizer_state_bytes": p.state.optimizer_state,
        "master_weights_bytes": p.state.master_weights,
        "activations_bytes": p.activations_at_batch(),
        "activations_dtype": o.activation_dtype().name(),
        "activations_per_sample_bytes": p.activations.per_sample,
        "activations_fixed_bytes": p.activations.fixed,
        "measured": p.measured.iter().map(|m| json!({
            "batch": m.batch,
            "activations_bytes": m.bytes,
            "activations_as_run_bytes": m.as_run,
        })).collect::<Vec<_>>(),
        "total_bytes": p.total,
        "dominated_by": p.dominant().map(|d| d.0),
        "budget_bytes": o.budget,
        "fit": fit,
    })
}

pub fn render_json(p: &Plan) -> String {
    super::json::to_string(&plan_document(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::memory::{Optimizer, Precision, TrainingMemory};
    use crate::plan::{Linear, Measured, PlanOptions};

    fn plan(state: TrainingMemory, total: Option<u64>) -> Plan {
        let m = |batch, bytes| Measured {
            batch,
            as_run: bytes,
            bytes,
        };
        Plan {
            model: "net".into(),
            options: PlanOptions {
                optimizer: Optimizer::Adam,
                precision: Precision::Full(DType::Float32),
                budget: Some(24_000_000_000),
                inference: false,
            },
            params: 2_117,
            trainable: 709,
            state,
            measured: [m(1, 100), m(2, 200)],
            run_dtypes: vec![DType::Float32],
            activations: Linear {
                fixed: 0,
                per_sample: 100,
            },
            total,
            fit: Some(Fit::NotEvenOne {
                needed_at_one: None,
            }),
        }
    }

    #[test]
    fn overflow_prints_words_not_a_saturated_number() {
        // Weights that fit beside state that does not: only the figures that overflow say so.
        let huge = TrainingMemory {
            weights: Some(1 << 63),
            gradients: Some(1 << 63),
            optimizer_state: None,
            master_weights: Some(0),
        };
        let text = render_text(&plan(huge, None));
        assert!(text.contains("8.00 EiB"), "{text}");
        assert_eq!(text.matches(OVERFLOWS).count(), 3, "{text}");
        let total = text.lines().find(|l| l.starts_with("  total")).unwrap();
        assert_eq!(
            total.split_whitespace().collect::<Vec<_>>(),
            ["total", "overflows", "64", "bits"]
        );
        assert!(text.contains("not even batch 1 fits (it needs overflows 64 bits)"));
        assert!(!text.contains("16.00 EiB"), "{text}");
        assert!(!text.contains("Dominated"));
        let doc: serde_json::Value = serde_json::from_str(&render_json(&plan(huge, None))).unwrap();
        assert!(doc["total_bytes"].is_null() && doc["optimizer_state_bytes"].is_null());
        assert_eq!(doc["weights_bytes"], 1u64 << 63);
    }

    #[test]
    fn trainable_params_and_budget_in_both_units() {
        let state = TrainingMemory {
            weights: Some(2_117 * 4),
            gradients: Some(709 * 4),
            optimizer_state: Some(709 * 8),
            master_weights: Some(0),
        };
        let total = state.total().map(|t| t + 100);
        let text = render_text(&plan(state, total));
        assert!(text.contains("gradients (709 trainable params)"), "{text}");
        assert!(text.contains("Budget 22.35 GiB (24.00 GB)"), "{text}");
        let md = render_markdown(&plan(state, total));
        assert!(md.starts_with("## Memory plan for net"), "{md}");
        let mut broken = plan(state, total);
        broken.model = "a\nb.pt".into();
        let md = render_markdown(&broken);
        assert!(
            md.starts_with("## Memory plan for a\\nb.pt: training"),
            "{md}"
        );
        assert!(md.contains("| gradients (709 trainable params) |"), "{md}");
        let csv = render_csv(&plan(state, total));
        assert!(csv.contains("\ngradients_bytes,2836\n"), "{csv}");
        assert!(csv.contains("\ntrainable_params,709\n"), "{csv}");
    }
}
