//! The Linear-layer calculator: how many parameters `Linear(IN, OUT)` has and what it costs in memory.

use crate::dtype::DType;
use crate::memory::{self, Optimizer, Precision, TrainingMemory};

/// Above this many weights the layer is not built for the cross-check: zero-filling it would take as much
/// memory as the layer itself, and the formula is exact anyway.
const MAX_BUILT_WEIGHTS: u64 = 1 << 28;

/// Why a Linear layer cannot be described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinearError {
    /// IN × OUT (+ OUT), or its size in bytes, does not fit in 64 bits.
    TooLarge { in_features: u64, out_features: u64 },
    /// The tch layer disagreed with the formula (this would be a bug in one of them).
    Mismatch { formula: u64, tch: u64 },
}

impl std::fmt::Display for LinearError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinearError::TooLarge {
                in_features,
                out_features,
            } => write!(
                f,
                "Linear({in_features}, {out_features}) is too large: its parameter count or size in bytes \
                 overflows 64 bits"
            ),
            LinearError::Mismatch { formula, tch } => write!(
                f,
                "tch::nn::linear holds {tch} parameters but IN×OUT+OUT gives {formula}"
            ),
        }
    }
}

impl std::error::Error for LinearError {}

/// Everything `tchinfo linear` reports, unrounded.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearReport {
    pub in_features: u64,
    pub out_features: u64,
    pub bias: bool,
    pub dtype: DType,
    pub weight_params: u64,
    pub bias_params: u64,
    pub total_params: u64,
    /// Parameters counted in a real `tch::nn::linear` layer ([`LinearReport::checked_against`]); `None`
    /// until checked, or when the layer was too big to build.
    pub tch_params: Option<u64>,
    /// Adam in the chosen dtype: weights, gradients, momentum and variance.
    pub adam: TrainingMemory,
    /// Adam under mixed precision (16 bytes per parameter).
    pub adam_mixed: TrainingMemory,
}

impl LinearReport {
    pub fn new(
        in_features: u64,
        out_features: u64,
        bias: bool,
        dtype: DType,
    ) -> Result<Self, LinearError> {
        let too_large = LinearError::TooLarge {
            in_features,
            out_features,
        };
        let weight_params = in_features
            .checked_mul(out_features)
            .ok_or(too_large.clone())?;
        let bias_params = if bias { out_features } else { 0 };
        let total_params = weight_params
            .checked_add(bias_params)
            .ok_or(too_large.clone())?;
        if i64::try_from(in_features).is_err() || i64::try_from(out_features).is_err() {
            return Err(too_large);
        }

        // Every figure printed is part of one of these totals: if both fit, none of them wraps.
        let adam = memory::training_of(
            total_params,
            total_params,
            Precision::Full(dtype),
            Optimizer::Adam,
        );
        let adam_mixed = memory::training_of(
            total_params,
            total_params,
            Precision::Mixed(DType::Float16),
            Optimizer::Adam,
        );
        if adam.total().is_none() || adam_mixed.total().is_none() {
            return Err(too_large);
        }
        Ok(LinearReport {
            in_features,
            out_features,
            bias,
            dtype,
            weight_params,
            bias_params,
            total_params,
            tch_params: None,
            adam,
            adam_mixed,
        })
    }

    /// True when building the layer for a cross-check costs little enough memory.
    pub fn small_enough_to_build(&self) -> bool {
        self.weight_params <= MAX_BUILT_WEIGHTS
    }

    /// Records the parameter count of a real layer built with these sizes; it must equal the formula.
    pub fn checked_against(mut self, counted: u64) -> Result<Self, LinearError> {
        if counted != self.total_params {
            return Err(LinearError::Mismatch {
                formula: self.total_params,
                tch: counted,
            });
        }
        self.tch_params = Some(counted);
        Ok(self)
    }

    /// Parameters a bias adds (with a bias) or saves (without one): always OUT.
    pub fn bias_cost(&self) -> u64 {
        self.out_features
    }

    /// (label, bytes) for each memory figure, in the order they are printed; the labels are the memory
    /// model's own, so the summary footer and this report name the same figure the same way. [`Self::new`]
    /// refused any layer whose totals overflow, so every figure is here.
    pub fn memory_rows(&self) -> Vec<(String, u64)> {
        [
            ("weights".to_string(), self.adam.weights),
            (
                memory::ADAM_LABEL.to_string(),
                self.adam.without_gradients(),
            ),
            (memory::FULL_TRAINING_LABEL.to_string(), self.adam.total()),
            (
                memory::MIXED_ADAM_LABEL.to_string(),
                self.adam_mixed.total(),
            ),
        ]
        .into_iter()
        .filter_map(|(label, bytes)| Some((label, bytes?)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{binary, decimal};

    #[test]
    fn linear_4096_matches_the_seed() {
        let r = LinearReport::new(4096, 4096, true, DType::Float32).unwrap();
        assert_eq!(r.weight_params, 16_777_216);
        assert_eq!(r.bias_params, 4_096);
        assert_eq!(r.total_params, 16_781_312);
        assert_eq!(binary(r.adam.weights.unwrap()), "64.02 MiB");
        assert_eq!(decimal(r.adam.weights.unwrap()), "67.13 MB");
        assert_eq!(binary(r.adam.without_gradients().unwrap()), "192.05 MiB");
        assert_eq!(binary(r.adam.total().unwrap()), "256.06 MiB");
        assert_eq!(r.adam_mixed.total(), Some(16 * 16_781_312));
        assert_eq!(r.memory_rows().len(), 4);
    }

    #[test]
    fn no_bias() {
        let r = LinearReport::new(4096, 4096, false, DType::Float32).unwrap();
        assert_eq!(r.total_params, 16_777_216);
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(LinearReport::new(u64::MAX, 2, true, DType::Float32).is_err());
        assert!(LinearReport::new(1 << 32, 1 << 32, true, DType::Float32).is_err());
        // 2^60 parameters fit, and so do their float32 weights, but not Adam's 16 bytes each.
        assert!(LinearReport::new(1 << 30, 1 << 30, false, DType::Float32).is_err());
        // 2^59: 16 bytes each fit in float32; 32 bytes each in float64 do not.
        assert!(LinearReport::new(1 << 29, 1 << 30, false, DType::Float32).is_ok());
        assert!(LinearReport::new(1 << 29, 1 << 30, false, DType::Float64).is_err());
    }

    #[test]
    fn huge_layers_are_not_built() {
        let r = LinearReport::new(1 << 20, 1 << 20, true, DType::Float16).unwrap();
        assert!(!r.small_enough_to_build());
        assert_eq!(r.total_params, (1 << 40) + (1 << 20));
    }
}
