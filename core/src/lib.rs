//! tchinfo without libtorch: the summary data model, the TorchScript / state-dict reader, the memory model
//! and every report.
//!
//! One pipeline: **sources** produce one [`summary::ModelSummary`]; **reports** consume it. The sources that
//! need libtorch (built-in architectures, forward passes through TorchScript graphs, `VarStore`s) live in
//! the `tchinfo` crate, which re-exports everything here. Keeping this crate free of tch lets the `tchinfo`
//! binary read a file's structure in milliseconds: libtorch's own start-up costs ~0.3 s.

pub mod architectures;
pub mod cli;
pub mod dtype;
pub mod linear;
pub mod memory;
pub mod op_macs;
pub mod output;
pub mod plan;
pub mod progress;
pub mod reports;
pub mod sandbox;
pub mod sources;
pub mod summary;
pub mod text;
pub mod units;
