//! The one memory model every report uses: what training and inference keep per parameter.
//!
//! Conventions (stated in the output too):
//! - "×3" is Adam's weights + momentum + variance, all in the weights' dtype;
//! - "×4" adds the gradients;
//! - mixed precision keeps 16-bit weights and gradients plus float32 master weights and float32 optimizer
//!   state: 2 + 2 + 4 + 4·states bytes per parameter, 16 for Adam, as the ZeRO paper counts it.

use crate::dtype::DType;
use std::fmt;
use std::str::FromStr;

/// What an optimizer keeps per parameter, besides the weights and gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    /// Plain SGD keeps no state.
    Sgd,
    /// SGD with momentum keeps one buffer.
    Momentum,
    /// Adam keeps the first and second moments (momentum and variance).
    Adam,
    /// AdamW keeps the same two moments as Adam; only the weight decay differs.
    AdamW,
}

impl Optimizer {
    pub fn states_per_param(self) -> u64 {
        match self {
            Optimizer::Sgd => 0,
            Optimizer::Momentum => 1,
            Optimizer::Adam | Optimizer::AdamW => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Sgd => "SGD",
            Optimizer::Momentum => "SGD with momentum",
            Optimizer::Adam => "Adam",
            Optimizer::AdamW => "AdamW",
        }
    }

    /// What the state is, for people: "momentum + variance".
    pub fn state_description(self) -> &'static str {
        match self {
            Optimizer::Sgd => "no state",
            Optimizer::Momentum => "momentum",
            Optimizer::Adam | Optimizer::AdamW => "momentum + variance",
        }
    }
}

impl FromStr for Optimizer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "sgd" => Optimizer::Sgd,
            "momentum" | "sgd-momentum" => Optimizer::Momentum,
            "adam" => Optimizer::Adam,
            "adamw" => Optimizer::AdamW,
            _ => {
                return Err(format!(
                    "unknown optimizer '{s}' (use sgd, momentum, adam or adamw)"
                ));
            }
        })
    }
}

impl fmt::Display for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the weights are held during training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Everything (weights, gradients, optimizer state) in one dtype.
    Full(DType),
    /// 16-bit weights and gradients (float16 or bfloat16), float32 master weights and optimizer state.
    Mixed(DType),
}

impl Precision {
    pub fn name(self) -> String {
        match self {
            Precision::Full(d) => d.name().to_string(),
            Precision::Mixed(d) => format!("{} mixed precision", d.name()),
        }
    }
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" | "float32" => Precision::Full(DType::Float32),
            "fp16-mixed" | "f16-mixed" | "mixed" | "amp" => Precision::Mixed(DType::Float16),
            "bf16-mixed" => Precision::Mixed(DType::BFloat16),
            _ => {
                return Err(format!(
                    "unknown precision '{s}' (use fp32, fp16-mixed or bf16-mixed)"
                ));
            }
        })
    }
}

/// Bytes kept for the parameters during training, split by what they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrainingMemory {
    pub weights: u64,
    pub gradients: u64,
    pub optimizer_state: u64,
    /// float32 copies of 16-bit weights under mixed precision; 0 otherwise.
    pub master_weights: u64,
}

impl TrainingMemory {
    pub fn total(&self) -> u64 {
        self.weights
            .saturating_add(self.gradients)
            .saturating_add(self.optimizer_state)
            .saturating_add(self.master_weights)
    }

    /// Everything but the gradients: what the "×3" figure for Adam counts.
    pub fn without_gradients(&self) -> u64 {
        self.total().saturating_sub(self.gradients)
    }
}

/// Bytes for `params` parameters trained with `optimizer` at `precision`.
pub fn training(params: u64, precision: Precision, optimizer: Optimizer) -> TrainingMemory {
    let states = optimizer.states_per_param();
    match precision {
        Precision::Full(dtype) => {
            let per = dtype.bytes();
            TrainingMemory {
                weights: params.saturating_mul(per),
                gradients: params.saturating_mul(per),
                optimizer_state: params.saturating_mul(per).saturating_mul(states),
                master_weights: 0,
            }
        }
        Precision::Mixed(half) => {
            let fp32 = DType::Float32.bytes();
            TrainingMemory {
                weights: params.saturating_mul(half.bytes()),
                gradients: params.saturating_mul(half.bytes()),
                optimizer_state: params.saturating_mul(fp32).saturating_mul(states),
                master_weights: params.saturating_mul(fp32),
            }
        }
    }
}

/// Bytes per parameter for a training set-up: 16 for Adam under mixed precision, 16 for Adam in fp32.
pub fn bytes_per_param(precision: Precision, optimizer: Optimizer) -> u64 {
    training(1, precision, optimizer).total()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINEAR_4096: u64 = 16_781_312;

    #[test]
    fn adam_times_three_and_four() {
        let m = training(
            LINEAR_4096,
            Precision::Full(DType::Float32),
            Optimizer::Adam,
        );
        assert_eq!(m.weights, 67_125_248);
        assert_eq!(m.without_gradients(), 3 * 67_125_248);
        assert_eq!(m.total(), 4 * 67_125_248);
        assert_eq!(crate::units::mib(m.without_gradients()), "192.05 MiB");
        assert_eq!(crate::units::mib(m.total()), "256.06 MiB");
    }

    #[test]
    fn mixed_precision_adam_is_sixteen_bytes() {
        assert_eq!(
            bytes_per_param(Precision::Mixed(DType::Float16), Optimizer::Adam),
            16
        );
        assert_eq!(
            bytes_per_param(Precision::Mixed(DType::BFloat16), Optimizer::AdamW),
            16
        );
        assert_eq!(
            bytes_per_param(Precision::Mixed(DType::Float16), Optimizer::Sgd),
            8
        );
        assert_eq!(
            bytes_per_param(Precision::Full(DType::Float32), Optimizer::Momentum),
            12
        );
        assert_eq!(
            bytes_per_param(Precision::Full(DType::Float32), Optimizer::Sgd),
            8
        );
    }
}
