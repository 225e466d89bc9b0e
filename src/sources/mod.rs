//! Sources: the file reader from `tchinfo-core`, plus the sources that need libtorch.

pub use tchinfo_core::sources::*;

pub mod builtin;
pub mod jit_graph;
pub mod loader;
pub mod varstore;

pub use loader::TorchLoader;

/// How `--batch-size` combines with a full input size (batch dimension first), for built-ins and
/// TorchScript alike: the batch, when given, replaces the first dimension, so that `plan` can vary the
/// batch of any input size.
pub fn apply_batch(size: &mut [i64], batch: Option<i64>) {
    if let (Some(batch), Some(first)) = (batch, size.first_mut()) {
        *first = batch;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_batch_replaces_the_first_dimension_only_when_given() {
        let mut size = [2, 3, 32, 32];
        super::apply_batch(&mut size, None);
        assert_eq!(size, [2, 3, 32, 32]);
        super::apply_batch(&mut size, Some(8));
        assert_eq!(size, [8, 3, 32, 32]);
        let mut empty: [i64; 0] = [];
        super::apply_batch(&mut empty, Some(8));
    }
}
