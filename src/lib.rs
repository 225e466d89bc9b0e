//! tchinfo: what is inside a neural network — module tree, parameters, output shapes and memory —
//! read through libtorch with the `tch` crate.
//!
//! One pipeline: **sources** (built-in architectures, TorchScript files, checkpoints, any `VarStore`)
//! produce one [`summary::ModelSummary`]; **reports** (table, compare, memory plan, JSON …) consume it.
//! Everything that needs no libtorch lives in `tchinfo-core` and is re-exported here, so one path
//! (`tchinfo::summary::ModelSummary`) works for library users.

pub use tchinfo_core::{
    architectures, cli, dtype, linear, memory, op_macs, output, plan, progress, reports, sandbox,
    summary, text, units,
};

pub mod record;
pub mod sources;
pub mod torch_dtype;

/// The README's Rust snippets, compiled and run as doctests so the library section stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
