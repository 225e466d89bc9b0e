//! Sources: the file reader from `tchinfo-core`, plus the sources that need libtorch.

pub use tchinfo_core::sources::*;

pub mod alloc_counter;
pub mod builtin;
pub mod jit_graph;
pub mod loader;
pub mod varstore;

pub use loader::TorchLoader;
