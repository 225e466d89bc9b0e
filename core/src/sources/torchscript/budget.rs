//! What a file may make the reader build, beyond the pickle machine's own bounds.
//!
//! Pickles share objects: a module, a tensor or a name stored once can be referenced a million times,
//! and the tree drawn from them unfolds every reference. Two things grow with the unfolding and are
//! bounded here:
//! - the memory the tree takes ([`TreeBudget`]): its text (a 1 MiB name under 250 levels of modules
//!   would otherwise make every path 250 MiB long), its modules and tensor records (a 100 KB file can
//!   unfold into millions), and the paths that tied tensors copy from their first occurrence
//!   ([`TieCost`]);
//! - the bytes the tensors add up to ([`ByteTally`]): every total a report adds (parameters, bytes, by
//!   dtype, by kind) then fits in 64 bits, however the file's shapes were chosen.

use super::tensors::{StorageView, TensorInfo};
use crate::summary::infer;
use std::collections::{HashMap, HashSet};

/// The most memory the tree may take, as charged (the charges follow the real sizes closely). Real
/// models need far less: 20,000 modules and 40,000 tensors are charged about 25 MiB, so this leaves
/// room for 200,000 of each.
pub const MAX_TREE_BYTES: usize = 256 << 20;

/// What a module costs beyond its text: the node itself and its place in its parent's list.
pub const MODULE_COST: usize = 512;

/// What a tensor record costs beyond its text: the record, its storage view kept for tie detection,
/// and their shape and stride lists.
pub fn tensor_cost(dims: usize) -> usize {
    256 + 32 * dims
}

/// Memory charged before it is taken.
#[derive(Debug)]
pub struct TreeBudget {
    left: usize,
    max: usize,
}

impl TreeBudget {
    pub fn new(max: usize) -> Self {
        TreeBudget { left: max, max }
    }

    /// Takes `bytes` from what is left, or says what ran out.
    pub fn charge(&mut self, bytes: usize) -> Result<(), String> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(format!(
                "the model's tree (modules, tensors, names and paths) would take more than {}: a damaged or hostile file",
                describe(self.max)
            )),
        }
    }
}

impl Default for TreeBudget {
    fn default() -> Self {
        TreeBudget::new(MAX_TREE_BYTES)
    }
}

/// What marking tied tensors will copy: every tensor that shares its storage view with an earlier one
/// records that one's path. Counted per view as (tensors - 1) x the longest path among them, which
/// holds whichever of them the tree puts first.
#[derive(Debug, Default)]
pub struct TieCost {
    views: HashMap<StorageView, (usize, usize)>,
}

impl TieCost {
    pub fn add(&mut self, view: &StorageView, path_len: usize) {
        if view.storage.is_none() {
            return;
        }
        match self.views.get_mut(view) {
            Some((count, longest)) => {
                *count += 1;
                *longest = (*longest).max(path_len);
            }
            None => {
                self.views.insert(view.clone(), (1, path_len));
            }
        }
    }

    pub fn charge(&self, budget: &mut TreeBudget) -> Result<(), String> {
        let copies = self
            .views
            .values()
            .map(|&(count, longest)| (count - 1).saturating_mul(longest))
            .fold(0usize, usize::saturating_add);
        budget.charge(copies)
    }
}

/// What a tensor name costs the tree built from it: the name is scanned, hashed and kept, and each of its
/// module segments (at most [`infer::MAX_DEPTH`]) keeps a path that is a prefix of it. The length is
/// charged before the name is scanned, so a long name repeated through a pickle's memo is refused unread.
pub fn charge_name(tree: &mut TreeBudget, name: &str) -> Result<(), String> {
    tree.charge(name.len())?;
    let modules = name
        .bytes()
        .filter(|&b| b == b'.')
        .count()
        .min(infer::MAX_DEPTH);
    tree.charge(name.len().saturating_mul(modules + 1))
}

/// The modules a tree built from these names will have: their distinct dotted prefixes, as far as the
/// tree nests (an upper bound: packed weights nest less). Hashing them costs what [`charge_name`]
/// charged.
pub fn module_count<'a>(names: impl IntoIterator<Item = &'a str>) -> usize {
    let mut prefixes: HashSet<&str> = HashSet::new();
    for name in names {
        for (at, _) in name.match_indices('.').take(infer::MAX_DEPTH) {
            prefixes.insert(&name[..at]);
        }
    }
    prefixes.len()
}

fn describe(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// The logical bytes of every tensor record the tree holds (a shared tensor once per place it appears),
/// kept at most `i64::MAX`: PyTorch counts sizes in int64, and every sum of them then fits in a `u64`.
/// Elements are kept within the same bound on their own: packed and block-quantized types hold more
/// elements than bytes (ggml's Q1_0, 128 in 18), so bounding the bytes alone would not bound the sums
/// of parameters a report makes.
#[derive(Debug, Default)]
pub struct ByteTally {
    total: u64,
    elements: u64,
}

impl ByteTally {
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn add(&mut self, t: &TensorInfo) -> Result<(), String> {
        let numel = t.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        self.add_sized(numel, numel.and_then(|n| t.dtype.bytes_for(n)))
    }

    /// Adds a tensor of `numel` elements taking `bytes` bytes, `None` standing for a count that
    /// overflowed 64 bits.
    pub fn add_sized(&mut self, numel: Option<u64>, bytes: Option<u64>) -> Result<(), String> {
        let within = |sum: Option<u64>| sum.filter(|&s| s <= i64::MAX as u64);
        let total = within(bytes.and_then(|b| self.total.checked_add(b)));
        let elements = within(numel.and_then(|n| self.elements.checked_add(n)));
        match (total, elements) {
            (Some(total), Some(elements)) => {
                self.total = total;
                self.elements = elements;
                Ok(())
            }
            _ => Err(
                "the tensors add up to more than 2^63 - 1 bytes or elements, more than PyTorch can address: a damaged or hostile file"
                    .into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::sources::torchscript::tensors::StorageView;

    fn t(shape: &[u64], dtype: DType) -> TensorInfo {
        TensorInfo {
            shape: shape.to_vec(),
            dtype,
            requires_grad: false,
            view: StorageView {
                storage: None,
                offset: 0,
                shape: shape.to_vec(),
                stride: vec![0; shape.len()],
            },
        }
    }

    #[test]
    fn budget_runs_out_exactly() {
        let mut b = TreeBudget::new(10);
        assert!(b.charge(4).is_ok());
        assert!(b.charge(6).is_ok());
        let e = b.charge(1).unwrap_err();
        assert!(e.contains("10 bytes"), "{e}");
    }

    #[test]
    fn tied_copies_are_counted_at_the_longest_path() {
        let view = t(&[4], DType::Float32).view;
        let shared = StorageView {
            storage: Some("0".into()),
            ..view.clone()
        };
        let mut ties = TieCost::default();
        ties.add(&shared, 3);
        ties.add(&shared, 100);
        ties.add(&shared, 5);
        // Storage-less views are never tied.
        ties.add(&view, 1000);
        ties.add(&view, 1000);
        let mut b = TreeBudget::new(200);
        ties.charge(&mut b).unwrap();
        assert!(b.charge(1).is_err());
    }

    #[test]
    fn tensor_bytes_stay_within_int64() {
        let mut tally = ByteTally::default();
        // 2^61 float32 elements are 2^63 bytes: one past the limit.
        assert!(tally.add(&t(&[1 << 61], DType::Float32)).is_err());
        assert!(tally.add(&t(&[1 << 60], DType::Float32)).is_ok());
        assert!(tally.add(&t(&[1 << 60], DType::Float32)).is_err());
        assert!(tally.add(&t(&[1 << 62, 1 << 62], DType::Bool)).is_err());
        let mut tally = ByteTally::default();
        assert!(tally.add(&t(&[(1 << 62) - 1, 2], DType::Bool)).is_ok());
    }
}
