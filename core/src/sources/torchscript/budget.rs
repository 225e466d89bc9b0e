//! What a file may make the reader build, beyond the pickle machine's own bounds.
//!
//! Pickles share objects: a module or a name stored once can be referenced a million times, and the tree
//! drawn from them unfolds every reference. Two things grow with the unfolding and are bounded here:
//! - the text the tree holds (paths, names, class names): a 1 MiB name under 250 levels of modules would
//!   otherwise make every path in the tree 250 MiB long;
//! - the bytes the tensors add up to: every total a report adds (parameters, bytes, by dtype, by kind)
//!   then fits in 64 bits, however the file's shapes were chosen.

use super::tensors::TensorInfo;

/// Paths, names and class names the tree may hold in total. Real models need a few MiB (100,000 modules
/// with 100-byte paths and class names make about 20 MiB).
pub const MAX_TEXT_BYTES: usize = 64 << 20;

/// Text charged before it is built.
#[derive(Debug)]
pub struct TextBudget {
    left: usize,
    max: usize,
}

impl TextBudget {
    pub fn new(max: usize) -> Self {
        TextBudget { left: max, max }
    }

    /// Takes `bytes` from what is left, or says what ran out.
    pub fn charge(&mut self, bytes: usize) -> Result<(), String> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(format!(
                "the model's names and paths add up to more than {}: a damaged or hostile file",
                describe(self.max)
            )),
        }
    }
}

impl Default for TextBudget {
    fn default() -> Self {
        TextBudget::new(MAX_TEXT_BYTES)
    }
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
#[derive(Debug, Default)]
pub struct ByteTally {
    total: u64,
}

impl ByteTally {
    pub fn add(&mut self, t: &TensorInfo) -> Result<(), String> {
        let bytes = t
            .shape
            .iter()
            .try_fold(t.dtype.bytes(), |acc, &d| acc.checked_mul(d));
        match bytes
            .and_then(|b| self.total.checked_add(b))
            .filter(|&sum| sum <= i64::MAX as u64)
        {
            Some(sum) => {
                self.total = sum;
                Ok(())
            }
            None => Err(
                "the tensors add up to more than 2^63 - 1 bytes, more than PyTorch can address: a damaged or hostile file"
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
    fn text_runs_out_exactly() {
        let mut b = TextBudget::new(10);
        assert!(b.charge(4).is_ok());
        assert!(b.charge(6).is_ok());
        let e = b.charge(1).unwrap_err();
        assert!(e.contains("10 bytes"), "{e}");
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
