//! Capacity planning: what training (or inference) at a batch size needs, and the largest batch that fits a
//! memory budget.
//!
//! Activations are measured, not assumed: the model runs at two batch sizes, and the difference gives the
//! bytes each extra sample costs. Conventions:
//! - training keeps every leaf layer's output for the backward pass (what autograd saves), plus
//!   weights, gradients, optimizer state and, under mixed precision, float32 master weights;
//! - inference keeps the weights and the largest live activations: a layer's input and output together,
//!   taken as twice the largest module output;
//! - activations are measured in float32; under mixed precision they are counted at 2 bytes per element.

use crate::dtype::DType;
use crate::memory::{self, Optimizer, Precision, TrainingMemory};
use crate::summary::{ModelSummary, Totals};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanOptions {
    pub batch_size: u64,
    pub optimizer: Optimizer,
    pub precision: Precision,
    pub budget: Option<u64>,
    pub inference: bool,
}

/// Activation bytes measured at one batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    pub batch: u64,
    pub bytes: u64,
}

/// `bytes(batch) = fixed + per_sample × batch`, from two measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linear {
    pub fixed: i128,
    pub per_sample: i128,
}

impl Linear {
    pub fn through(a: Measured, b: Measured) -> Linear {
        let per_sample = (b.bytes as i128 - a.bytes as i128) / (b.batch as i128 - a.batch as i128);
        Linear {
            fixed: a.bytes as i128 - per_sample * a.batch as i128,
            per_sample,
        }
    }

    pub fn at(&self, batch: u64) -> u64 {
        (self.fixed + self.per_sample * batch as i128).max(0) as u64
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fit {
    /// The largest batch that fits, and what it needs.
    Largest { batch: u64, total: u64 },
    /// Even batch 1 does not fit: the fixed part alone is over budget.
    NotEvenOne { needed_at_one: u64 },
    /// Activations do not grow with the batch (they never run out).
    Unbounded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub model: String,
    pub options: PlanOptions,
    pub params: u64,
    /// Weights, gradients, optimizer state, master weights. Inference keeps only the weights.
    pub state: TrainingMemory,
    pub measured: [Measured; 2],
    pub activations: Linear,
    pub activations_at_batch: u64,
    pub total: u64,
    pub fit: Option<Fit>,
}

fn activation_bytes(totals: &Totals, options: &PlanOptions) -> Option<u64> {
    let a = totals.activations?;
    let bytes = if options.inference {
        2 * a.largest_output_bytes
    } else {
        a.leaf_output_bytes
    };
    Some(match options.precision {
        Precision::Mixed(half) => bytes / DType::Float32.bytes() * half.bytes(),
        Precision::Full(d) => bytes / DType::Float32.bytes() * d.bytes(),
    })
}

impl Plan {
    /// `first` and `second` are the same model run at two different batch sizes, `first` at the plan's.
    pub fn new(first: &ModelSummary, second: &ModelSummary, options: PlanOptions) -> Option<Plan> {
        let (t1, t2) = (first.totals(), second.totals());
        let batch_of = |s: &ModelSummary| s.inputs.first().and_then(|i| i.shape.first()).copied();
        let m1 = Measured {
            batch: batch_of(first)?,
            bytes: activation_bytes(&t1, &options)?,
        };
        let m2 = Measured {
            batch: batch_of(second)?,
            bytes: activation_bytes(&t2, &options)?,
        };
        if m1.batch == m2.batch {
            return None;
        }
        let activations = Linear::through(m1, m2);
        let mut state = memory::training(t1.params, options.precision, options.optimizer);
        if options.inference {
            state = TrainingMemory {
                weights: state.weights,
                ..TrainingMemory::default()
            };
        }
        let total = state.total() + m1.bytes;
        let fit = options
            .budget
            .map(|budget| largest_batch(state.total(), activations, budget));
        Some(Plan {
            model: first.name.clone(),
            options,
            params: t1.params,
            state,
            measured: [m1, m2],
            activations,
            activations_at_batch: m1.bytes,
            total,
            fit,
        })
    }

    /// The biggest part of the total, for "what dominates".
    pub fn dominant(&self) -> (&'static str, u64) {
        let parts = [
            ("weights", self.state.weights),
            ("gradients", self.state.gradients),
            ("optimizer state", self.state.optimizer_state),
            ("float32 master weights", self.state.master_weights),
            ("activations", self.activations_at_batch),
        ];
        parts
            .into_iter()
            .max_by_key(|p| p.1)
            .unwrap_or(("weights", 0))
    }
}

fn largest_batch(fixed_state: u64, act: Linear, budget: u64) -> Fit {
    let needed = |b: u64| fixed_state as i128 + act.fixed + act.per_sample * b as i128;
    if needed(1) > budget as i128 {
        return Fit::NotEvenOne {
            needed_at_one: needed(1).max(0) as u64,
        };
    }
    if act.per_sample <= 0 {
        return Fit::Unbounded;
    }
    let batch = ((budget as i128 - fixed_state as i128 - act.fixed) / act.per_sample).max(1) as u64;
    Fit::Largest {
        batch,
        total: needed(batch) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_fit_through_two_points() {
        let l = Linear::through(
            Measured {
                batch: 1,
                bytes: 150,
            },
            Measured {
                batch: 2,
                bytes: 250,
            },
        );
        assert_eq!(
            l,
            Linear {
                fixed: 50,
                per_sample: 100
            }
        );
        assert_eq!(l.at(10), 1050);
    }

    #[test]
    fn largest_batch_respects_the_budget() {
        let act = Linear {
            fixed: 50,
            per_sample: 100,
        };
        assert_eq!(
            largest_batch(1000, act, 1000 + 50 + 100 * 7 + 99),
            Fit::Largest {
                batch: 7,
                total: 1750
            }
        );
        assert_eq!(
            largest_batch(1000, act, 1100),
            Fit::NotEvenOne {
                needed_at_one: 1150
            }
        );
    }
}
