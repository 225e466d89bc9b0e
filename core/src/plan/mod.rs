//! Capacity planning: what a training step (or inference) at a batch size needs at its peak, and the
//! largest batch that fits a memory budget.
//!
//! The parts:
//! - [`measured`]: activations as a real training step holds them — a model tchinfo can run is run in
//!   training mode (dropout and BatchNorm as in training) with autograd recording, forward then
//!   backward, under a counting CPU allocator, at two small batches; the bytes held for backward and the
//!   peak during backward are then straight lines in the batch size;
//! - [`transformer`]: activations of a transformer from its architecture alone (no weights, no run), by
//!   the published per-layer formula (Korthikanti et al. 2022), for models too large to run here;
//! - [`trainable`]: which parts of a transformer a fine-tune trains (frozen parts, LoRA adapters), so
//!   the formula keeps only what their backward needs;
//! - [`state`]: weights, gradients, optimizer state and master weights per GPU, under data parallelism
//!   with ZeRO stages and tensor parallelism;
//! - [`device`]: what the device changes (dropout masks' width, the attention kernel);
//! - [`step`]: the peak of a steady-state step, the max over its phases (forward, backward, optimizer
//!   step with its temporaries), and the largest batch that fits;
//! - [`inference`]: inference plans (weights + the largest live activations), from two forward passes.
//!
//! The promise: every figure is bytes with its unit, what is not known is said to be unknown (never 0),
//! and the plan says which path (measured or formula) it took and what it leaves out.

pub mod device;
pub mod finetune;
pub mod from_file;
pub mod inference;
pub mod measured;
pub mod state;
pub mod step;
pub mod trainable;
pub mod transformer;

pub use device::Device;
pub use inference::{Fit, Linear, Measured, Plan, PlanError, PlanOptions};
pub use measured::{MeasuredActivations, TrainingRun, TrainingRuns};
pub use state::{Parallelism, StateOptions, TrainingState};
pub use step::{Activations, Phase, StepPlan, StepPlanOptions};
pub use transformer::{AttentionKind, Checkpointing, TransformerActivations};
