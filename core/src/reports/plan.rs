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

/// A budget's answer in a plan document, training or inference.
fn fit_document(f: &Fit) -> serde_json::Value {
    match f {
        Fit::Largest { batch, total } => json!({"largest_batch": batch, "total_bytes": total}),
        Fit::NotEvenOne { needed_at_one } => {
            json!({"largest_batch": 0, "needed_at_batch_1_bytes": needed_at_one})
        }
        Fit::Unbounded => json!({"largest_batch": null, "unbounded": true}),
    }
}

/// The `tchinfo/plan` document, which the JSON report prints and the HTML report embeds.
pub fn plan_document(p: &Plan) -> serde_json::Value {
    let o = &p.options;
    let fit = p.fit.as_ref().map(fit_document);
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

// ---- training plans: the peak of a steady-state step (crate::plan::step) ----

mod step_report {
    use super::super::csv;
    use super::super::footer::aligned;
    use super::super::json::SCHEMA_VERSION;
    use super::super::markdown::{one_line, pipe_table};
    use super::OVERFLOWS;
    use crate::memory::Precision;
    use crate::plan::state::CONVENTIONS;
    use crate::plan::{Activations, Fit, StepPlan};
    use crate::units::{binary, both, decimal, thousands};
    use serde_json::json;

    pub(super) fn heading(p: &StepPlan) -> String {
        let o = &p.options;
        let par = o.parallelism;
        if o.device == crate::plan::Device::Cpu {
            return format!(
                "Training plan for {}: {}, {}, batch {}, on a CPU",
                super::super::name(&p.model, super::super::MAX_CELL),
                o.optimizer,
                o.precision.name(),
                o.batch
            );
        }
        let gpus = if par.gpus == 1 {
            "1 GPU".to_string()
        } else {
            let mut parts = vec![format!("{} GPUs", par.gpus)];
            if par.tensor_parallel > 1 {
                parts.push(format!("tensor parallel {}", par.tensor_parallel));
            }
            parts.push(format!("data parallel {}", par.data_parallel()));
            if par.zero > 0 {
                parts.push(format!("ZeRO stage {}", par.zero));
            }
            parts.join(", ")
        };
        format!(
            "Training plan for {}: {}, {}, batch {} per GPU ({gpus})",
            super::super::name(&p.model, super::super::MAX_CELL),
            o.optimizer,
            o.precision.name(),
            o.batch
        )
    }

    /// Whose memory the parts are: one GPU's, or the CPU process's.
    fn per_device(p: &StepPlan) -> &'static str {
        match p.options.device {
            crate::plan::Device::Gpu => "Per GPU",
            crate::plan::Device::Cpu => "In the CPU process",
        }
    }

    /// (label, bytes) of what one GPU holds, in print order.
    pub(super) fn parts(p: &StepPlan) -> Vec<(String, &'static str, Option<u64>)> {
        let s = p.state.per_gpu;
        let mut rows = vec![
            (
                format!("weights ({} params)", thousands(p.params)),
                "weights_bytes",
                s.weights,
            ),
            (
                if p.trainable == p.params {
                    "gradients".to_string()
                } else {
                    format!("gradients ({} trainable params)", thousands(p.trainable))
                },
                "gradients_bytes",
                s.gradients,
            ),
            (
                format!(
                    "optimizer state ({})",
                    p.options.optimizer.state_description()
                ),
                "optimizer_state_bytes",
                s.optimizer_state,
            ),
        ];
        if matches!(p.options.precision, Precision::Mixed(_)) {
            rows.push((
                "float32 master weights".to_string(),
                "master_weights_bytes",
                s.master_weights,
            ));
        }
        if let Some(g) = p.state.gathered {
            rows.push((
                format!(
                    "ZeRO-3: the largest layer gathered whole ({}), forward and backward",
                    g.what
                ),
                "zero3_gathered_bytes",
                Some(g.bytes),
            ));
        }
        rows.push((
            format!(
                "activations held for backward, batch {} ({} B per element)",
                p.options.batch,
                p.options.activation_bytes()
            ),
            "activations_bytes",
            p.held_at_batch(),
        ));
        rows
    }

    fn measured_line(p: &StepPlan) -> String {
        match &p.activations {
            Activations::Measured(m) => {
                let runs: Vec<String> = m
                    .runs
                    .iter()
                    .map(|r| {
                        format!(
                            "batch {}: {} held, backward peak {}",
                            r.batch,
                            binary(r.held_for_backward),
                            binary(r.backward_peak)
                        )
                    })
                    .collect();
                let check = match m.linearity_error_percent {
                    Some(e) => {
                        format!(" The line through the first two is within {e:.1}% of the third.")
                    }
                    None => String::new(),
                };
                let fixed = match m.fixed_batch {
                    Some(b) => format!(" The model runs at batch {b} only: planned for it alone."),
                    None => String::new(),
                };
                format!(
                    "Activations measured: {} ({}); float32: {}. Per sample {} held for backward.{check}{fixed}",
                    m.method,
                    "bytes autograd keeps, deduplicated by allocation",
                    runs.join("; "),
                    binary(m.held.per_sample.max(0) as u64),
                )
            }
            Activations::Formula(f) => format!(
                "Activations from the architecture, not measured: {}. {} layers × {} each; logits and \
                 loss {}{}.",
                f.formula,
                f.layers,
                binary(f.per_layer),
                binary(f.logits_and_loss),
                if f.adapters > 0 {
                    format!("; LoRA adapters' intermediates {}", binary(f.adapters))
                } else {
                    String::new()
                }
            ),
        }
    }

    pub(super) fn remarks(p: &StepPlan) -> Vec<String> {
        let mut out = vec![measured_line(p)];
        if let (Some(phase), Some(peak)) = (p.peak_phase(), p.peak) {
            out.push(format!(
                "The peak is the {} phase: {} {}.",
                phase.name,
                both(peak),
                match p.options.device {
                    crate::plan::Device::Gpu => "per GPU",
                    crate::plan::Device::Cpu => "in the process",
                }
            ));
        }
        let fixed_batch = match &p.activations {
            Activations::Measured(m) => m.fixed_batch,
            Activations::Formula(_) => None,
        };
        if let (Some(fit), Some(budget), Some(fixed)) = (&p.fit, p.options.budget, fixed_batch) {
            let budget = both(budget);
            out.push(match fit {
                Fit::Largest { total, .. } => format!(
                    "Budget {budget}: the model runs at batch {fixed} only, and its peak {} fits.",
                    binary(*total)
                ),
                _ => format!(
                    "Budget {budget}: the model runs at batch {fixed} only, and its peak {} does not fit.",
                    p.peak.map_or(OVERFLOWS.to_string(), binary)
                ),
            });
        } else if let (Some(fit), Some(budget)) = (&p.fit, p.options.budget) {
            let budget = both(budget);
            out.push(match fit {
                Fit::Largest { batch, total } => format!(
                    "Budget {budget}: the largest batch{} that fits is {batch} (its peak {}).",
                    match p.options.device {
                        crate::plan::Device::Gpu => " per GPU",
                        crate::plan::Device::Cpu => "",
                    },
                    binary(*total)
                ),
                Fit::NotEvenOne { needed_at_one } => format!(
                    "Budget {budget}: not even batch 1 fits (its peak {}).",
                    needed_at_one.map_or(OVERFLOWS.to_string(), binary)
                ),
                Fit::Unbounded => {
                    format!("Budget {budget}: activations do not grow with the batch.")
                }
            });
        }
        let conventions: Vec<String> = CONVENTIONS
            .iter()
            .map(|(label, per)| {
                format!(
                    "{per} B/param ({label}): {}",
                    p.params
                        .checked_mul(*per)
                        .map_or(OVERFLOWS.to_string(), binary)
                )
            })
            .collect();
        out.push(format!(
            "Weights + gradients + optimizer state of all {} parameters on one GPU under the conventions \
             people quote: {}.",
            thousands(p.params),
            conventions.join("; ")
        ));
        out
    }

    pub(super) fn assumptions(p: &StepPlan) -> Vec<String> {
        let mut out = vec![match p.options.device {
            crate::plan::Device::Gpu => "Not included: the CUDA context (about 0.3–1.5 GB per GPU), \
                cuDNN/cuBLAS workspaces, the caching allocator's reserve and fragmentation, the data \
                loader. (`--device cpu` plans a CPU run: element-wide dropout masks, sdpa's CPU kernels.)"
                .to_string(),
            crate::plan::Device::Cpu => "Not included: a process's one-time costs of its first training \
                step (the Python modules torch.optim imports on first use, about 75 MiB with torch 2.13; \
                the autograd engine's threads), oneDNN's own primitives and scratch (a few MiB), malloc's \
                fragmentation, the data loader."
                .to_string(),
        }];
        out.extend([

            "Steady state: weights, optimizer state and master weights resident all along; gradients \
             made by the backward and freed by zero_grad(set_to_none=True)."
                .to_string(),
            "Optimizer step: PyTorch's per-tensor update, whose temporaries are two of the largest \
             trainable tensor (foreach and fused implementations on GPUs keep other amounts)."
                .to_string(),
        ]);
        match &p.activations {
            Activations::Measured(_) => {
                out.push(
                    "Activations measured on CPU in float32: a plan in 16 bits halves them (autocast \
                     keeps some in float32), and CPU kernels may keep other tensors than cuDNN's (CPU \
                     dropout keeps float masks where CUDA keeps 1-byte ones); the loss is the output's \
                     mean (a cross-entropy adds batch × classes float32)."
                        .to_string(),
                );
                if p.options.parallelism.gpus > 1 {
                    out.push(
                        "Data parallel: every GPU runs the batch given here, with the state ZeRO \
                         leaves it."
                            .to_string(),
                    );
                }
            }
            Activations::Formula(_) => out.push(format!(
                "Backward in a formula plan: autograd frees each layer's activations as it makes that \
                 layer's gradients, so the backward is taken at its two ends (every activation with the \
                 head's gradient and the logits' float32 gradient; every gradient with the first layer's \
                 activations); dropout masks at {}.",
                match p.options.device {
                    crate::plan::Device::Gpu => "1 byte, as CUDA keeps them",
                    crate::plan::Device::Cpu => "the activation's width, as CPU dropout keeps them",
                }
            )),
        }
        out
    }

    const UNITS: &str = "KiB/MiB/GiB = 2^10/2^20/2^30 bytes; KB/MB/GB = 10^3/10^6/10^9.";

    pub fn text(p: &StepPlan) -> String {
        let mut s = heading(p) + &format!("\n\n{}:\n", per_device(p));
        let mut table: Vec<Vec<String>> = parts(p)
            .into_iter()
            .map(|(label, _, bytes)| match bytes {
                Some(b) => vec![label, binary(b), decimal(b)],
                None => vec![label, OVERFLOWS.to_string(), String::new()],
            })
            .collect();
        s += &aligned(&table, &[false, true, true], "  ");
        s += "\nPeak of a steady-state step, the max over its phases:\n";
        table = p
            .phases
            .iter()
            .map(|ph| {
                let label = format!("{} ({})", ph.name, ph.holds);
                match ph.bytes {
                    Some(b) => vec![label, binary(b), decimal(b)],
                    None => vec![label, OVERFLOWS.to_string(), String::new()],
                }
            })
            .collect();
        table.push(match p.peak {
            Some(b) => vec!["peak".to_string(), binary(b), decimal(b)],
            None => vec!["peak".to_string(), OVERFLOWS.to_string(), String::new()],
        });
        s += &aligned(&table, &[false, true, true], "  ");
        s.push('\n');
        for r in remarks(p) {
            s += &r;
            s.push('\n');
        }
        s += "\nAssumptions:\n";
        for a in assumptions(p) {
            s += &format!("- {a}\n");
        }
        s += UNITS;
        s.push('\n');
        s
    }

    pub fn markdown(p: &StepPlan) -> String {
        let mut s = format!("## {}\n\n", one_line(&heading(p)));
        let mut rows: Vec<Vec<String>> = parts(p)
            .into_iter()
            .map(|(label, _, b)| {
                vec![
                    label,
                    b.map_or(OVERFLOWS.to_string(), binary),
                    b.map_or(OVERFLOWS.to_string(), decimal),
                ]
            })
            .collect();
        for ph in &p.phases {
            rows.push(vec![
                format!("phase: {}", ph.name),
                ph.bytes.map_or(OVERFLOWS.to_string(), binary),
                ph.bytes.map_or(OVERFLOWS.to_string(), decimal),
            ]);
        }
        rows.push(vec![
            "**peak**".to_string(),
            p.peak.map_or(OVERFLOWS.to_string(), binary),
            p.peak.map_or(OVERFLOWS.to_string(), decimal),
        ]);
        s += &pipe_table(
            &[
                per_device(p).to_string(),
                "Binary (2^10)".to_string(),
                "Decimal (10^3)".to_string(),
            ],
            &rows,
            &[false, true, true],
        );
        s.push('\n');
        for r in remarks(p).into_iter().chain(assumptions(p)) {
            s += &format!("- {}\n", one_line(&r));
        }
        s += &format!("\n{UNITS}\n");
        s
    }

    pub fn document(p: &StepPlan) -> serde_json::Value {
        let o = &p.options;
        let fit = p.fit.as_ref().map(super::fit_document);
        let activations = match &p.activations {
            Activations::Measured(m) => json!({
                "source": "measured",
                "method": m.method,
                "linearity_error_percent": m.linearity_error_percent,
                "fixed_batch": m.fixed_batch,
                "gradients_bytes_float32": m.gradients,
                "runs": m.runs.iter().map(|r| json!({
                    "batch": r.batch,
                    "held_for_backward_bytes": r.held_for_backward,
                    "backward_peak_bytes": r.backward_peak,
                    "gradients_bytes": r.gradients,
                })).collect::<Vec<_>>(),
            }),
            Activations::Formula(f) => json!({
                "source": "formula",
                "formula": f.formula,
                "layers": f.layers,
                "per_layer_bytes": f.per_layer,
                "layers_kept_bytes": f.layers_kept,
                "recompute_transient_bytes": f.recompute_transient,
                "outside_layers_bytes": f.outside_layers,
                "logits_and_loss_bytes": f.logits_and_loss,
                "adapters_bytes": f.adapters,
            }),
        };
        let s = p.state.per_gpu;
        json!({
            "schema": "tchinfo/plan",
            "schema_version": SCHEMA_VERSION,
            "tchinfo_version": env!("CARGO_PKG_VERSION"),
            "model": p.model,
            "mode": "training",
            "device": o.device.name(),
            "optimizer": o.optimizer.name(),
            "precision": o.precision.name(),
            "batch_size": o.batch,
            "gpus": o.parallelism.gpus,
            "zero_stage": o.parallelism.zero,
            "tensor_parallel": o.parallelism.tensor_parallel,
            "params": p.params,
            "trainable_params": p.trainable,
            "weights_bytes": s.weights,
            "gradients_bytes": s.gradients,
            "optimizer_state_bytes": s.optimizer_state,
            "master_weights_bytes": s.master_weights,
            "optimizer_temporaries_bytes": p.state.optimizer_temporaries,
            "zero3_gathered_bytes": p.state.gathered.map(|g| g.bytes),
            "zero3_gathered": p.state.gathered.map(|g| g.what),
            "activations_bytes": p.held_at_batch(),
            "activations_per_sample_bytes": p.held.per_sample,
            "activations_fixed_bytes": p.held.fixed,
            "activations": activations,
            "phases": p.phases.iter().map(|ph| json!({
                "phase": ph.name,
                "holds": ph.holds,
                "bytes": ph.bytes,
                "per_sample_bytes": ph.line.per_sample,
            })).collect::<Vec<_>>(),
            "total_bytes": p.peak,
            "peak_phase": p.peak_phase().map(|ph| ph.name),
            "budget_bytes": o.budget,
            "fit": fit,
            "assumptions": assumptions(p),
        })
    }

    pub fn csv(p: &StepPlan) -> String {
        let o = &p.options;
        let (largest, needed) = match &p.fit {
            Some(Fit::Largest { batch, total }) => (Some(*batch), Some(*total)),
            Some(Fit::NotEvenOne { needed_at_one }) => (Some(0), *needed_at_one),
            _ => (None, None),
        };
        let opt = |v: Option<u64>| v.map(|v| v.to_string());
        let mut fields: Vec<(String, Option<String>)> = vec![
            ("model".into(), Some(p.model.clone())),
            ("mode".into(), Some("training".into())),
            ("device".into(), Some(o.device.name().into())),
            ("optimizer".into(), Some(o.optimizer.name().into())),
            ("precision".into(), Some(o.precision.name())),
            ("batch_size".into(), Some(o.batch.to_string())),
            ("gpus".into(), Some(o.parallelism.gpus.to_string())),
            ("zero_stage".into(), Some(o.parallelism.zero.to_string())),
            ("params".into(), Some(p.params.to_string())),
            ("trainable_params".into(), Some(p.trainable.to_string())),
        ];
        for (_, key, bytes) in parts(p) {
            fields.push((key.to_string(), opt(bytes)));
        }
        for ph in &p.phases {
            fields.push((
                format!("{}_bytes", ph.name.replace(' ', "_")),
                opt(ph.bytes),
            ));
        }
        fields.push(("peak_bytes".into(), opt(p.peak)));
        fields.push(("budget_bytes".into(), opt(o.budget)));
        fields.push(("largest_batch".into(), opt(largest)));
        fields.push(("needed_bytes".into(), opt(needed)));
        let mut s = csv::line(&["quantity".to_string(), "value".to_string()]);
        for (q, v) in fields {
            s += &csv::line(&[q, v.unwrap_or_default()]);
        }
        s
    }
}

pub fn step_text(p: &crate::plan::StepPlan) -> String {
    step_report::text(p)
}

pub fn step_markdown(p: &crate::plan::StepPlan) -> String {
    step_report::markdown(p)
}

pub fn step_csv(p: &crate::plan::StepPlan) -> String {
    step_report::csv(p)
}

/// The `tchinfo/plan` document of a training plan, which the JSON report prints and the HTML report
/// embeds (its parts keep the keys of [`plan_document`], so the HTML view draws both).
pub fn step_document(p: &crate::plan::StepPlan) -> serde_json::Value {
    step_report::document(p)
}

pub fn step_json(p: &crate::plan::StepPlan) -> String {
    super::json::to_string(&step_document(p))
}
