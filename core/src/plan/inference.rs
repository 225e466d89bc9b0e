//! Inference plans, and the leaf-output estimate of training activations for sources that cannot run a
//! training step (a file whose forward runs only in eval mode): weights + the activations of two forward
//! passes at different batch sizes, whose difference gives the bytes each extra sample costs.
//! Training plans from measured steps or a transformer's architecture are [`super::step`]'s.
//! Conventions:
//! - every parameter is stored; only trainable ones get gradients, optimizer state and, under mixed
//!   precision, float32 master weights (a frozen backbone costs its weights alone);
//! - training keeps every leaf layer's output for the backward pass (what autograd saves);
//! - inference keeps the weights and the largest live activations: a layer's input and output together,
//!   taken as twice the largest module output;
//! - floating-point activations are counted at the plan's precision (4 bytes per element in float32, 2
//!   under mixed precision), whatever dtype the measuring run used; integer outputs (token ids, masks)
//!   keep their own size.

use crate::dtype::DType;

use crate::memory::{self, Optimizer, Precision, TrainingMemory};
use crate::summary::{ModelSummary, ModuleNode, TensorValue};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanOptions {
    pub optimizer: Optimizer,
    pub precision: Precision,
    pub budget: Option<u64>,
    pub inference: bool,
}

impl PlanOptions {
    /// Bytes per floating-point activation element: 2 under mixed precision, the dtype's size otherwise.
    pub fn activation_dtype(&self) -> DType {
        match self.precision {
            Precision::Full(d) | Precision::Mixed(d) => d,
        }
    }
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// A summary carries no measured outputs or no input batch.
    NoForwardPass,
    /// Both summaries ran at the same batch, so the cost per sample cannot be told from the fixed part.
    SameBatch(u64),
    /// The activations of a forward pass add up to more than 64 bits of bytes.
    Overflow,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::NoForwardPass => write!(
                f,
                "no forward pass could be run to measure activations (files need --input-size)"
            ),
            PlanError::SameBatch(b) => write!(
                f,
                "both forward passes ran at batch {b}, so activations per sample cannot be measured"
            ),
            PlanError::Overflow => write!(f, "the activations' size in bytes overflows 64 bits"),
        }
    }
}

impl std::error::Error for PlanError {}

/// Activations of one forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    pub batch: u64,
    /// Bytes as the run produced them, each output in its own dtype.
    pub as_run: u64,
    /// The same elements counted at the plan's precision: what the plan adds up.
    pub bytes: u64,
}

/// `bytes(batch) = fixed + per_sample × batch`, from two measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linear {
    pub fixed: i128,
    pub per_sample: i128,
}

impl Linear {
    /// Bytes at `batch` (may be negative for a line fitted through noisy points at batch 0).
    pub fn at(&self, batch: u64) -> i128 {
        self.fixed + self.per_sample * batch as i128
    }

    pub fn through(a: Measured, b: Measured) -> Linear {
        let per_sample = (b.bytes as i128 - a.bytes as i128) / (b.batch as i128 - a.batch as i128);
        Linear {
            fixed: a.bytes as i128 - per_sample * a.batch as i128,
            per_sample,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fit {
    /// The largest batch that fits, and what it needs.
    Largest { batch: u64, total: u64 },
    /// Even batch 1 does not fit: the fixed part alone is over budget. `None` when what batch 1 needs
    /// overflows 64 bits.
    NotEvenOne { needed_at_one: Option<u64> },
    /// Activations do not grow with the batch (they never run out).
    Unbounded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub model: String,
    pub options: PlanOptions,
    pub params: u64,
    pub trainable: u64,
    /// Weights, gradients, optimizer state, master weights (inference keeps only the weights); each
    /// `None` when it overflows 64 bits.
    pub state: TrainingMemory,
    pub measured: [Measured; 2],
    /// Floating-point dtypes the measuring run produced, to say when they differ from the plan's.
    pub run_dtypes: Vec<DType>,
    pub activations: Linear,
    /// State plus activations at the plan's batch; `None` when it overflows 64 bits.
    pub total: Option<u64>,
    pub fit: Option<Fit>,
}

/// Bytes of one output: floating-point elements at `width` bytes, anything else at its own size.
fn counted_bytes(v: &TensorValue, width: Option<u64>) -> Option<u64> {
    let elements = v
        .shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
    let per = match width {
        Some(w) if v.dtype.is_floating_point() => w,
        _ => v.dtype.bytes(),
    };
    elements.checked_mul(per)
}

/// Training: every leaf module's outputs (every call of a module called more than once). Inference:
/// twice the largest single module output. `None` on overflow.
fn activation_bytes(root: &ModuleNode, inference: bool, width: Option<u64>) -> Option<u64> {
    let (mut leaves, mut largest) = (0u64, 0u64);
    for (_, node) in root.walk() {
        for call in node.calls() {
            let bytes = call
                .iter()
                .try_fold(0u64, |acc, v| acc.checked_add(counted_bytes(v, width)?))?;
            largest = largest.max(bytes);
            if node.is_leaf() {
                leaves = leaves.checked_add(bytes)?;
            }
        }
    }
    if inference {
        largest.checked_mul(2)
    } else {
        Some(leaves)
    }
}

fn measure(summary: &ModelSummary, options: &PlanOptions) -> Result<Measured, PlanError> {
    let batch = summary
        .inputs
        .first()
        .and_then(|i| i.shape.first())
        .copied()
        .ok_or(PlanError::NoForwardPass)?;
    if summary.root.walk().iter().all(|(_, n)| n.outputs.is_none()) {
        return Err(PlanError::NoForwardPass);
    }
    let width = options.activation_dtype().bytes();
    let at = |w| activation_bytes(&summary.root, options.inference, w).ok_or(PlanError::Overflow);
    Ok(Measured {
        batch,
        as_run: at(None)?,
        bytes: at(Some(width))?,
    })
}

fn floating_output_dtypes(summary: &ModelSummary) -> Vec<DType> {
    let mut dtypes: Vec<DType> = summary
        .root
        .walk()
        .iter()
        .filter_map(|(_, n)| n.outputs.as_ref())
        .flatten()
        .map(|v| v.dtype)
        .filter(|d| d.is_floating_point())
        .collect();
    dtypes.sort();
    dtypes.dedup();
    dtypes
}

impl Plan {
    /// `first` and `second` are the same model run at two different batch sizes; the plan is for
    /// `first`'s batch.
    pub fn new(
        first: &ModelSummary,
        second: &ModelSummary,
        options: PlanOptions,
    ) -> Result<Plan, PlanError> {
        let (m1, m2) = (measure(first, &options)?, measure(second, &options)?);
        if m1.batch == m2.batch {
            return Err(PlanError::SameBatch(m1.batch));
        }
        let activations = Linear::through(m1, m2);
        let totals = first.totals();
        // Inference has no update step: no gradients, optimizer state or master weights.
        let trained = if options.inference {
            0
        } else {
            totals.trainable
        };
        let state =
            memory::training_of(totals.params, trained, options.precision, options.optimizer);
        let total = state.total().and_then(|s| s.checked_add(m1.bytes));
        let fit = options
            .budget
            .map(|budget| largest_batch(state.total(), activations, budget));
        Ok(Plan {
            model: first.name.clone(),
            options,
            params: totals.params,
            trainable: totals.trainable,
            state,
            measured: [m1, m2],
            run_dtypes: floating_output_dtypes(first),
            activations,
            total,
            fit,
        })
    }

    /// The batch the plan is for.
    pub fn batch(&self) -> u64 {
        self.measured[0].batch
    }

    /// Activation bytes at the plan's batch, at its precision.
    pub fn activations_at_batch(&self) -> u64 {
        self.measured[0].bytes
    }

    /// True when the measuring run produced floating-point outputs of another width than the plan counts.
    pub fn rescaled(&self) -> bool {
        self.measured.iter().any(|m| m.as_run != m.bytes)
    }

    /// The biggest part of the total, for "what dominates"; `None` when the total overflows.
    pub fn dominant(&self) -> Option<(&'static str, u64)> {
        let state = self.state;
        self.total?;
        let parts = [
            ("weights", state.weights?),
            ("gradients", state.gradients?),
            ("optimizer state", state.optimizer_state?),
            ("float32 master weights", state.master_weights?),
            ("activations", self.activations_at_batch()),
        ];
        parts.into_iter().max_by_key(|p| p.1)
    }
}

/// `fixed_state` is `None` when the state alone overflows 64 bits (so nothing fits).
fn largest_batch(fixed_state: Option<u64>, act: Linear, budget: u64) -> Fit {
    let Some(fixed_state) = fixed_state else {
        return Fit::NotEvenOne {
            needed_at_one: None,
        };
    };
    let needed = |b: u64| fixed_state as i128 + act.fixed + act.per_sample * b as i128;
    if needed(1) > budget as i128 {
        return Fit::NotEvenOne {
            needed_at_one: u64::try_from(needed(1)).ok(),
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
    use crate::summary::SourceKind;

    fn measured(batch: u64, bytes: u64) -> Measured {
        Measured {
            batch,
            as_run: bytes,
            bytes,
        }
    }

    #[test]
    fn linear_fit_through_two_points() {
        let l = Linear::through(measured(1, 150), measured(2, 250));
        assert_eq!(
            l,
            Linear {
                fixed: 50,
                per_sample: 100
            }
        );
        assert_eq!(l.fixed + l.per_sample * 10, 1050);
    }

    #[test]
    fn largest_batch_respects_the_budget() {
        let act = Linear {
            fixed: 50,
            per_sample: 100,
        };
        assert_eq!(
            largest_batch(Some(1000), act, 1000 + 50 + 100 * 7 + 99),
            Fit::Largest {
                batch: 7,
                total: 1750
            }
        );
        assert_eq!(
            largest_batch(Some(1000), act, 1100),
            Fit::NotEvenOne {
                needed_at_one: Some(1150)
            }
        );
        assert_eq!(
            largest_batch(None, act, u64::MAX),
            Fit::NotEvenOne {
                needed_at_one: None
            }
        );
    }

    /// A root with one Linear leaf holding `params` parameters (`trainable` of them trainable, as two
    /// tensors), which returned `out` for an input of batch `batch`.
    fn model(batch: u64, out: Vec<u64>, dtype: DType, params: u64, trainable: u64) -> ModelSummary {
        use crate::summary::TensorRecord;
        let mut fc = ModuleNode::new("fc", "fc", "Linear");
        fc.parameters = vec![
            TensorRecord::new("weight", vec![params - trainable], dtype, false),
            TensorRecord::new("bias", vec![trainable], dtype, true),
        ];
        fc.outputs = Some(vec![TensorValue { shape: out, dtype }]);
        let mut root = ModuleNode::new("", "", "Net");
        root.children.push(fc);
        let mut s = ModelSummary::new("net", SourceKind::TorchScript, root);
        s.inputs = vec![TensorValue {
            shape: vec![batch, 16],
            dtype,
        }];
        s
    }

    fn options(precision: Precision) -> PlanOptions {
        PlanOptions {
            optimizer: Optimizer::Adam,
            precision,
            budget: None,
            inference: false,
        }
    }

    #[test]
    fn frozen_parameters_cost_their_weights_only() {
        let a = model(1, vec![1, 8], DType::Float32, 2_117, 709);
        let b = model(2, vec![2, 8], DType::Float32, 2_117, 709);
        let p = Plan::new(&a, &b, options(Precision::Full(DType::Float32))).unwrap();
        let s = p.state;
        assert_eq!(s.weights, Some(2_117 * 4));
        assert_eq!(s.gradients, Some(709 * 4));
        assert_eq!(s.optimizer_state, Some(709 * 8));
        assert_eq!(p.total, Some(2_117 * 4 + 709 * 12 + 32));
    }

    #[test]
    fn half_precision_activations_are_counted_at_the_plans_width() {
        // A float16 run: 8 elements per sample, 16 bytes as run.
        let a = model(1, vec![1, 8], DType::Float16, 10, 10);
        let b = model(2, vec![2, 8], DType::Float16, 10, 10);
        let fp32 = Plan::new(&a, &b, options(Precision::Full(DType::Float32))).unwrap();
        assert_eq!(fp32.measured[0].as_run, 16);
        assert_eq!(fp32.activations_at_batch(), 32);
        assert_eq!(fp32.activations.per_sample, 32);
        assert!(fp32.rescaled());
        assert_eq!(fp32.run_dtypes, [DType::Float16]);
        let mixed = Plan::new(&a, &b, options(Precision::Mixed(DType::Float16))).unwrap();
        assert_eq!(mixed.activations_at_batch(), 16);
        assert!(!mixed.rescaled());
        // Integer outputs (token ids) keep their size whatever the precision.
        let ids = |n| model(n, vec![n, 8], DType::Int64, 10, 10);
        let p = Plan::new(&ids(1), &ids(2), options(Precision::Mixed(DType::Float16))).unwrap();
        assert_eq!(p.activations_at_batch(), 64);
    }

    #[test]
    fn overflow_is_an_error_or_marked_not_a_saturated_number() {
        let huge = |n| model(n, vec![n, 1 << 62], DType::Float32, 10, 10);
        assert_eq!(
            Plan::new(&huge(1), &huge(2), options(Precision::Full(DType::Float32))),
            Err(PlanError::Overflow)
        );
        let a = model(1, vec![1, 8], DType::Float32, 1 << 61, 1 << 61);
        let b = model(2, vec![2, 8], DType::Float32, 1 << 61, 1 << 61);
        let mut o = options(Precision::Full(DType::Float32));
        o.budget = Some(u64::MAX);
        let p = Plan::new(&a, &b, o).unwrap();
        // 2^61 parameters: their float32 weights (2^63 bytes) are exact; Adam's state and the total are not.
        assert_eq!(p.state.weights, Some(1 << 63));
        assert_eq!(p.state.optimizer_state, None);
        assert_eq!(p.state.total(), None);
        assert_eq!(p.total, None);
        assert_eq!(p.dominant(), None);
        assert_eq!(
            p.fit,
            Some(Fit::NotEvenOne {
                needed_at_one: None
            })
        );
    }

    #[test]
    fn no_forward_pass_or_one_batch_is_an_error() {
        let a = model(1, vec![1, 8], DType::Float32, 10, 10);
        let mut bare = a.clone();
        bare.inputs.clear();
        let o = options(Precision::Full(DType::Float32));
        assert_eq!(Plan::new(&bare, &a, o), Err(PlanError::NoForwardPass));
        assert_eq!(Plan::new(&a, &a, o), Err(PlanError::SameBatch(1)));
    }
}
