//! The peak of a steady-state training step and the largest batch that fits a budget.
//!
//! In a steady state the weights, the optimizer state (and master weights) are resident all along;
//! gradients are made by the backward and freed when the next step zeroes them (`set_to_none`). The
//! peak is the max over the phases, never one sum:
//! - forward: state + the activations held for backward (+ under ZeRO-3 the largest layer's weights,
//!   gathered whole while it runs, in this phase and the next);
//! - backward: state + what the backward holds at its highest (activations not yet freed, gradients
//!   made so far, its temporaries) — measured; or, for a formula plan, taken at its two ends, since
//!   autograd frees each layer's activations as it makes that layer's gradients: its start (every
//!   activation still held, the head's gradient and the logits' float32 gradient made) and its end
//!   (every gradient made, the first layer's activations not yet freed), each with one layer
//!   recomputed under full checkpointing;
//! - optimizer step: state + gradients + the update's temporaries.
//!
//! Each phase is a straight line in the batch, so the largest batch that fits is the smallest of the
//! largest batches each phase allows.

use super::device::Device;
use super::inference::{Fit, Linear};
use super::measured::MeasuredActivations;
use super::state::{Parallelism, TrainingState};
use super::transformer::{AttentionKind, Checkpointing, TransformerActivations};
use crate::memory::{Optimizer, Precision};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPlanOptions {
    pub optimizer: Optimizer,
    pub precision: Precision,
    pub parallelism: Parallelism,
    pub budget: Option<u64>,
    /// Sequences (or images) per GPU per step.
    pub batch: u64,
    pub checkpointing: Checkpointing,
    pub attention: AttentionKind,
    pub device: Device,
}

impl StepPlanOptions {
    /// Bytes per floating-point activation: 2 when the forward runs in 16 bits, else the dtype's.
    pub fn activation_bytes(&self) -> u64 {
        match self.precision {
            Precision::Full(d) | Precision::Mixed(d) => d.bytes(),
        }
    }
}

/// Where the activations came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Activations {
    /// Measured training steps (float32), rescaled to the plan's activation width.
    Measured(MeasuredActivations),
    /// The transformer formula at the plan's batch, with the lines it makes in the batch.
    Formula(TransformerActivations),
}

/// One phase of the step at the plan's batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: &'static str,
    /// What it holds, in words.
    pub holds: &'static str,
    /// Bytes per GPU as a line in the batch.
    pub line: Linear,
    /// At the plan's batch; `None` when it overflows 64 bits.
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    pub model: String,
    pub options: StepPlanOptions,
    pub params: u64,
    pub trainable: u64,
    pub state: TrainingState,
    pub activations: Activations,
    /// Bytes held for backward at the plan's batch and precision, as a line in the batch.
    pub held: Linear,
    pub phases: Vec<Phase>,
    /// The highest phase at the plan's batch; `None` on overflow.
    pub peak: Option<u64>,
    pub fit: Option<Fit>,
}

/// The backward phase as a line in the batch: measured at its highest, or a formula's two ends.
enum Backward {
    Measured(Linear),
    Ends { start: Linear, end: Linear },
}

fn at(line: Linear, batch: u64) -> Option<u64> {
    u64::try_from(line.at(batch)).ok()
}

/// `a × numerator / denominator` of a line (rescaling float32 measurements to 16 bits).
fn scaled(l: Linear, numerator: i128, denominator: i128) -> Linear {
    Linear {
        fixed: l.fixed * numerator / denominator,
        per_sample: l.per_sample * numerator / denominator,
    }
}

fn plus(l: Linear, bytes: u64) -> Linear {
    Linear {
        fixed: l.fixed + bytes as i128,
        per_sample: l.per_sample,
    }
}

fn flat(bytes: u64) -> Linear {
    Linear {
        fixed: bytes as i128,
        per_sample: 0,
    }
}

impl StepPlan {
    /// `formula_lines` is the formula's (held, backward extra) at batches 1 and 2 when the activations
    /// come from the formula; measured activations carry their own lines.
    pub fn new(
        model: &str,
        params: u64,
        trainable: u64,
        state: TrainingState,
        activations: Activations,
        formula_lines: Option<(TransformerActivations, TransformerActivations)>,
        options: StepPlanOptions,
    ) -> Option<StepPlan> {
        let s = state.per_gpu;
        let resident = s
            .weights?
            .checked_add(s.optimizer_state?)?
            .checked_add(s.master_weights?)?;
        let gradients = s.gradients?;
        let temporaries = state.optimizer_temporaries?;
        let width = options.activation_bytes() as i128;
        let (held, backward) = match (&activations, &formula_lines) {
            (Activations::Measured(m), _) => {
                let held = scaled(m.held, width, 4);
                // The measured backward peak holds float32 gradients; the plan's are in its precision.
                let beyond_gradients = Linear {
                    fixed: m.backward_peak.fixed - m.gradients as i128,
                    per_sample: m.backward_peak.per_sample,
                };
                let backward = plus(scaled(beyond_gradients, width, 4), gradients);
                (held, Backward::Measured(backward))
            }
            (Activations::Formula(_), Some((one, two))) => {
                let line = |f: &dyn Fn(&TransformerActivations) -> u64| Linear {
                    fixed: 2 * f(one) as i128 - f(two) as i128,
                    per_sample: f(two) as i128 - f(one) as i128,
                };
                let held = line(&|a| a.held());
                // The head's gradient (a share of the gradients, as sharded) is made before any
                // layer's activations are freed.
                let head_gradients = u64::try_from(
                    u128::from(gradients) * u128::from(one.head_params.min(trainable))
                        / u128::from(trainable.max(1)),
                )
                .ok()?;
                let start = line(&|a| {
                    a.held()
                        .saturating_add(a.logits_and_loss)
                        .saturating_add(a.recompute_transient)
                });
                let end = line(&|a| {
                    (a.layers_kept / a.layers.max(1)).saturating_add(a.recompute_transient)
                });
                (
                    held,
                    Backward::Ends {
                        start: plus(start, head_gradients),
                        end: plus(end, gradients),
                    },
                )
            }
            (Activations::Formula(_), None) => return None,
        };
        // ZeRO-3: the layer being run is gathered whole, forward and backward.
        let gathered = state.gathered.map_or(0, |g| g.bytes);
        let running = resident.checked_add(gathered)?;
        let mut phases = vec![(
            "forward",
            "state + activations held for backward",
            plus(held, running),
        )];
        match backward {
            Backward::Measured(line) => phases.push((
                "backward",
                "state + the backward's highest: activations not yet freed, gradients, temporaries",
                plus(line, running),
            )),
            Backward::Ends { start, end } => {
                phases.push((
                    "backward, its start",
                    "state + every activation + the head's gradient + the logits' float32 gradient",
                    plus(start, running),
                ));
                phases.push((
                    "backward, its end",
                    "state + every gradient + the first layer's activations",
                    plus(end, running),
                ));
            }
        }
        phases.push((
            "optimizer step",
            "state + gradients + the update's temporaries",
            flat(resident.checked_add(gradients)?.checked_add(temporaries)?),
        ));
        let phases: Vec<Phase> = phases
            .into_iter()
            .map(|(name, holds, line)| Phase {
                name,
                holds,
                line,
                bytes: at(line, options.batch),
            })
            .collect();
        let peak = phases
            .iter()
            .map(|p| p.bytes)
            .try_fold(0u64, |a, b| Some(a.max(b?)));
        let fixed_batch = match &activations {
            Activations::Measured(m) => m.fixed_batch,
            Activations::Formula(_) => None,
        };
        let fit = options.budget.map(|budget| match (fixed_batch, peak) {
            // A model that runs at one batch only fits at that batch or not at all.
            (Some(batch), Some(total)) if total <= budget => Fit::Largest { batch, total },
            (Some(_), peak) => Fit::NotEvenOne {
                needed_at_one: peak,
            },
            (None, _) => largest_batch(&phases, budget),
        });
        Some(StepPlan {
            model: model.to_string(),
            options,
            params,
            trainable,
            state,
            activations,
            held,
            phases,
            peak,
            fit,
        })
    }

    /// Activations held for backward at the plan's batch.
    pub fn held_at_batch(&self) -> Option<u64> {
        at(self.held, self.options.batch)
    }

    /// The phase that sets the peak.
    pub fn peak_phase(&self) -> Option<&Phase> {
        self.phases
            .iter()
            .max_by_key(|p| p.bytes.unwrap_or(u64::MAX))
    }
}

/// The largest batch for which every phase fits the budget.
fn largest_batch(phases: &[Phase], budget: u64) -> Fit {
    let budget = budget as i128;
    let needed = |b: u64| phases.iter().map(|p| p.line.at(b)).max().unwrap_or(0);
    if needed(1) > budget {
        return Fit::NotEvenOne {
            needed_at_one: u64::try_from(needed(1)).ok(),
        };
    }
    let mut largest: Option<i128> = None;
    for p in phases {
        if p.line.per_sample > 0 {
            let b = (budget - p.line.fixed) / p.line.per_sample;
            largest = Some(largest.map_or(b, |l| l.min(b)));
        }
    }
    match largest {
        None => Fit::Unbounded,
        Some(b) => {
            let batch = u64::try_from(b.max(1)).unwrap_or(u64::MAX);
            Fit::Largest {
                batch,
                total: u64::try_from(needed(batch)).unwrap_or(u64::MAX),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::memory::TrainingMemory;
    use crate::plan::measured::{TrainingRun, TrainingRuns};

    fn measured() -> Activations {
        let run = |batch, held, peak| TrainingRun {
            batch,
            held_for_backward: held,
            backward_peak: peak,
            gradients: 400,
        };
        let runs = TrainingRuns {
            runs: vec![run(1, 1_000, 1_500), run(2, 2_000, 2_600)],
            fixed_batch: None,
            method: "test".into(),
        };
        Activations::Measured(MeasuredActivations::from_runs(&runs).unwrap())
    }

    fn state(temporaries: u64) -> TrainingState {
        TrainingState {
            per_gpu: TrainingMemory {
                weights: Some(400),
                gradients: Some(400),
                optimizer_state: Some(800),
                master_weights: Some(0),
            },
            optimizer_temporaries: Some(temporaries),
            gathered: None,
        }
    }

    fn options(batch: u64, budget: Option<u64>) -> StepPlanOptions {
        StepPlanOptions {
            optimizer: Optimizer::Adam,
            precision: Precision::Full(DType::Float32),
            parallelism: Parallelism::default(),
            budget,
            batch,
            checkpointing: Checkpointing::None,
            attention: AttentionKind::Fused,
            device: Device::Gpu,
        }
    }

    #[test]
    fn the_peak_is_the_highest_phase_not_a_sum() {
        let p = StepPlan::new(
            "m",
            100,
            100,
            state(160),
            measured(),
            None,
            options(4, None),
        )
        .unwrap();
        let bytes: Vec<Option<u64>> = p.phases.iter().map(|x| x.bytes).collect();
        // forward 1,200 + 4,000; backward 1,200 + 400 + 1,100·4 - 0 ... (peak line 400 + 1,100 b)
        assert_eq!(bytes, [Some(5_200), Some(1_200 + 400 + 4_400), Some(1_760)]);
        assert_eq!(p.peak, Some(6_000));
        assert_eq!(p.peak_phase().unwrap().name, "backward");
        // At batch 1 with large temporaries the optimizer step is the peak.
        let p = StepPlan::new(
            "m",
            100,
            100,
            state(5_000),
            measured(),
            None,
            options(1, None),
        )
        .unwrap();
        assert_eq!(p.peak_phase().unwrap().name, "optimizer step");
    }

    #[test]
    fn the_largest_batch_fits_every_phase() {
        let p = StepPlan::new(
            "m",
            100,
            100,
            state(160),
            measured(),
            None,
            options(1, Some(10_000)),
        )
        .unwrap();
        // backward: 1,200 + 400 + 1,100 b <= 10,000 → b = 7 (9,300).
        assert_eq!(
            p.fit,
            Some(Fit::Largest {
                batch: 7,
                total: 9_300
            })
        );
        let p = StepPlan::new(
            "m",
            100,
            100,
            state(160),
            measured(),
            None,
            options(1, Some(2_000)),
        )
        .unwrap();
        assert!(matches!(p.fit, Some(Fit::NotEvenOne { .. })));
    }

    fn formula_at(batch: u64) -> TransformerActivations {
        TransformerActivations {
            layers: 2,
            per_layer: 400 * batch,
            layers_kept: 800 * batch,
            recompute_transient: 0,
            outside_layers: 100 * batch,
            logits_and_loss: 100 * batch,
            adapters: 0,
            head_params: 50,
            formula: "test".into(),
        }
    }

    /// A formula plan at batch 4 from the activations `at` gives at each batch.
    fn formula_plan(at: impl Fn(u64) -> TransformerActivations) -> StepPlan {
        StepPlan::new(
            "m",
            100,
            100,
            state(160),
            Activations::Formula(at(4)),
            Some((at(1), at(2))),
            options(4, None),
        )
        .unwrap()
    }

    #[test]
    fn a_formula_backward_is_taken_at_its_two_ends() {
        let p = formula_plan(formula_at);
        let phase = |name: &str| p.phases.iter().find(|x| x.name == name).unwrap().bytes;
        // Resident 1,200. Start: held 1,000·4 + the logits' gradient 100·4 + the head's gradient
        // (50 of 100 trainable parameters: half of 400 bytes). End: 400 gradient bytes + one layer.
        assert_eq!(phase("forward"), Some(1_200 + 4_000));
        assert_eq!(phase("backward, its start"), Some(1_200 + 4_400 + 200));
        assert_eq!(phase("backward, its end"), Some(1_200 + 400 + 1_600));
        assert_eq!(p.peak, Some(5_800));
        // A frozen head (head_params 0) makes no gradient before the layers'.
        let p = formula_plan(|b| TransformerActivations {
            head_params: 0,
            ..formula_at(b)
        });
        assert_eq!(p.peak, Some(5_600));
    }

    /// ZeRO-3's gathered layer sits on the forward and backward phases, not on the optimizer step.
    #[test]
    fn zero3_gathered_weights_add_to_forward_and_backward() {
        let mut s = state(160);
        s.gathered = Some(crate::plan::state::Gathered {
            bytes: 300,
            what: "one transformer block",
        });
        let p = StepPlan::new("m", 100, 100, s, measured(), None, options(4, None)).unwrap();
        let bytes: Vec<Option<u64>> = p.phases.iter().map(|x| x.bytes).collect();
        assert_eq!(bytes, [Some(5_500), Some(6_300), Some(1_760)]);
    }

    #[test]
    fn sixteen_bit_activations_halve_the_measured_ones() {
        let mut o = options(2, None);
        o.precision = Precision::Mixed(DType::BFloat16);
        let p = StepPlan::new("m", 100, 100, state(160), measured(), None, o).unwrap();
        assert_eq!(p.held_at_batch(), Some(1_000));
    }
}
