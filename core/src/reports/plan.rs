//! The capacity plan as text and JSON.

use super::footer::aligned;
use super::json::SCHEMA_VERSION;
use crate::plan::{Fit, Plan};
use crate::units::{binary, decimal, thousands};
use serde_json::json;

pub fn render_text(p: &Plan) -> String {
    let o = &p.options;
    let mode = if o.inference {
        "inference".to_string()
    } else {
        format!("training with {}", o.optimizer)
    };
    let mut s = format!(
        "Memory plan for {}: {mode}, {}, batch {}\n\n",
        p.model,
        o.precision.name(),
        o.batch_size
    );
    let mut rows = Vec::new();
    let mut row = |label: String, bytes: u64| rows.push(vec![label, binary(bytes), decimal(bytes)]);
    row(
        format!("weights ({} params)", thousands(p.params)),
        p.state.weights,
    );
    if !o.inference {
        row("gradients".to_string(), p.state.gradients);
        row(
            format!("optimizer state ({})", o.optimizer.state_description()),
            p.state.optimizer_state,
        );
        if p.state.master_weights > 0 {
            row("float32 master weights".to_string(), p.state.master_weights);
        }
    }
    let act_label = if o.inference {
        format!(
            "activations, batch {} (largest live: 2 × largest layer output)",
            o.batch_size
        )
    } else {
        format!(
            "activations, batch {} (every leaf layer's output, kept for backward)",
            o.batch_size
        )
    };
    row(act_label, p.activations_at_batch);
    row("total".to_string(), p.total);
    s += &aligned(&rows, &[false, true, true], "  ");
    let (what, bytes) = p.dominant();
    s += &format!(
        "\nDominated by {what}: {:.1}% of the total.\n",
        if p.total == 0 {
            0.0
        } else {
            bytes as f64 * 100.0 / p.total as f64
        }
    );
    s += &format!(
        "Activations measured at batch {} ({}) and {} ({}): {} per sample, {} fixed.\n",
        p.measured[0].batch,
        binary(p.measured[0].bytes),
        p.measured[1].batch,
        binary(p.measured[1].bytes),
        binary(p.activations.per_sample.max(0) as u64),
        binary(p.activations.fixed.max(0) as u64)
    );
    if let (Some(fit), Some(budget)) = (&p.fit, o.budget) {
        s += &match fit {
            Fit::Largest { batch, total } => format!(
                "Budget {}: the largest batch that fits is {batch} (needs {}).\n",
                binary(budget),
                binary(*total)
            ),
            Fit::NotEvenOne { needed_at_one } => format!(
                "Budget {}: not even batch 1 fits (it needs {}).\n",
                binary(budget),
                binary(*needed_at_one)
            ),
            Fit::Unbounded => format!(
                "Budget {}: activations do not grow with the batch.\n",
                binary(budget)
            ),
        };
    }
    s += "\nConventions: ×3 = Adam's weights + momentum + variance, ×4 adds gradients; mixed precision keeps \
          16-bit weights and gradients, float32 master weights and optimizer state (16 B/param for Adam), and \
          counts activations at 2 bytes per element. KiB/MiB/GiB = 2^10/2^20/2^30 bytes; KB/MB/GB = 10^3/10^6/10^9.\n";
    s
}

pub fn render_json(p: &Plan) -> String {
    let o = &p.options;
    let fit = p.fit.as_ref().map(|f| match f {
        Fit::Largest { batch, total } => json!({"largest_batch": batch, "total_bytes": total}),
        Fit::NotEvenOne { needed_at_one } => {
            json!({"largest_batch": 0, "needed_at_batch_1_bytes": needed_at_one})
        }
        Fit::Unbounded => json!({"largest_batch": null, "unbounded": true}),
    });
    let doc = json!({
        "schema": "tchinfo/plan",
        "schema_version": SCHEMA_VERSION,
        "tchinfo_version": env!("CARGO_PKG_VERSION"),
        "model": p.model,
        "mode": if o.inference { "inference" } else { "training" },
        "optimizer": o.optimizer.name(),
        "precision": o.precision.name(),
        "batch_size": o.batch_size,
        "params": p.params,
        "weights_bytes": p.state.weights,
        "gradients_bytes": p.state.gradients,
        "optimizer_state_bytes": p.state.optimizer_state,
        "master_weights_bytes": p.state.master_weights,
        "activations_bytes": p.activations_at_batch,
        "activations_per_sample_bytes": p.activations.per_sample,
        "activations_fixed_bytes": p.activations.fixed,
        "measured": p.measured.iter().map(|m| json!({"batch": m.batch, "activations_bytes": m.bytes})).collect::<Vec<_>>(),
        "total_bytes": p.total,
        "dominated_by": p.dominant().0,
        "budget_bytes": o.budget,
        "fit": fit,
    });
    super::json::to_string(&doc)
}
