//! tchinfo: what is inside a neural network — module tree, parameters, output shapes and memory —
//! read through libtorch with the `tch` crate.
//!
//! One pipeline: **sources** (built-in architectures, TorchScript files, checkpoints, any `VarStore`)
//! produce one [`summary::ModelSummary`]; **reports** (table, compare, memory plan, JSON …) consume it.

pub mod cli;
pub mod dtype;
pub mod linear;
pub mod memory;
pub mod output;
pub mod plan;
pub mod progress;
pub mod reports;
pub mod sources;
pub mod summary;
pub mod units;
