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
    /// Adafactor (no momentum, as its default): the second moment of a matrix factored into one row and
    /// one column vector; of any other tensor kept whole.
    Adafactor,
    /// 8-bit Adam (bitsandbytes): momentum and variance quantised to one byte each, in blocks of 2,048
    /// with a float32 scale per block.
    Adam8bit,
}

impl Optimizer {
    /// Whole-size states per parameter, each in the optimizer state's dtype. Adafactor's factored state
    /// and 8-bit Adam's one-byte states are not whole-size: see [`Optimizer::state_bytes`].
    pub fn states_per_param(self) -> u64 {
        match self {
            Optimizer::Sgd | Optimizer::Adafactor | Optimizer::Adam8bit => 0,
            Optimizer::Momentum => 1,
            Optimizer::Adam | Optimizer::AdamW => 2,
        }
    }

    /// State bytes of one trainable tensor of `shape`, whole-size states held at `state_bytes` per
    /// element; `None` on overflow.
    pub fn state_bytes(self, shape: &[u64], state_bytes: u64) -> Option<u64> {
        let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
        match self {
            Optimizer::Adafactor if shape.len() >= 2 => {
                // One float32 vector per row and one per column of the last two dimensions, for each
                // leading index.
                let (rows, cols) = (shape[shape.len() - 2], shape[shape.len() - 1]);
                let lead: u64 = shape[..shape.len() - 2].iter().product();
                lead.checked_mul(rows.checked_add(cols)?)?.checked_mul(4)
            }
            Optimizer::Adafactor => numel.checked_mul(4),
            // Two one-byte states, plus a float32 scale per block of 2,048 for each.
            Optimizer::Adam8bit => numel
                .checked_mul(2)?
                .checked_add(numel.div_ceil(2048).checked_mul(8)?),
            _ => numel
                .checked_mul(state_bytes)?
                .checked_mul(self.states_per_param()),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Sgd => "SGD",
            Optimizer::Momentum => "SGD with momentum",
            Optimizer::Adam => "Adam",
            Optimizer::AdamW => "AdamW",
            Optimizer::Adafactor => "Adafactor",
            Optimizer::Adam8bit => "8-bit Adam",
        }
    }

    /// What the state is, for people: "momentum + variance".
    pub fn state_description(self) -> &'static str {
        match self {
            Optimizer::Sgd => "no state",
            Optimizer::Momentum => "momentum",
            Optimizer::Adam | Optimizer::AdamW => "momentum + variance",
            Optimizer::Adafactor => "factored second moments",
            Optimizer::Adam8bit => "8-bit momentum + variance",
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
            "adafactor" => Optimizer::Adafactor,
            "adam8bit" | "adamw8bit" | "adam-8bit" => Optimizer::Adam8bit,
            _ => {
                return Err(format!(
                    "unknown optimizer '{s}' (use sgd, momentum, adam, adamw, adafactor or adam8bit)"
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
            "bf16" | "bfloat16" => Precision::Full(DType::BFloat16),
            "fp16" | "f16" | "float16" => Precision::Full(DType::Float16),
            _ => {
                return Err(format!(
                    "unknown precision '{s}' (use fp32, bf16-mixed, fp16-mixed, bf16 or fp16)"
                ));
            }
        })
    }
}

/// Bytes kept for the parameters during training, split by what they are. Each figure is checked on its
/// own: `None` is a figure that does not fit in 64 bits, so a report says so for that figure only (the
/// weights of a huge model can be exact when their ×4 total is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrainingMemory {
    pub weights: Option<u64>,
    pub gradients: Option<u64>,
    pub optimizer_state: Option<u64>,
    /// float32 copies of 16-bit weights under mixed precision; 0 otherwise.
    pub master_weights: Option<u64>,
}

impl TrainingMemory {
    /// Everything: `None` when a part or the sum does not fit in 64 bits.
    pub fn total(&self) -> Option<u64> {
        self.without_gradients()?.checked_add(self.gradients?)
    }

    /// Everything but the gradients: what the "×3" figure for Adam counts.
    pub fn without_gradients(&self) -> Option<u64> {
        self.weights?
            .checked_add(self.optimizer_state?)?
            .checked_add(self.master_weights?)
    }
}

/// The labels every report prints beside these figures, so the same figure reads the same everywhere.
pub const ADAM_LABEL: &str = "Adam: weights + momentum + variance (×3)";
pub const FULL_TRAINING_LABEL: &str = "full training: Adam + gradients (×4)";
/// [`FULL_TRAINING_LABEL`] starting a row of its own, as compare's rows do.
pub const FULL_TRAINING_ROW_LABEL: &str = "Full training: Adam + gradients (×4)";
pub const MIXED_ADAM_LABEL: &str = "mixed precision Adam (16 B/param)";

/// Bytes for `params` parameters of which `trainable` are trained with `optimizer` at `precision`.
///
/// Every parameter is stored, but only trainable ones get gradients, optimizer state and (under mixed
/// precision) float32 master weights: a frozen backbone costs its weights and nothing more.
pub fn training_of(
    params: u64,
    trainable: u64,
    precision: Precision,
    optimizer: Optimizer,
) -> TrainingMemory {
    let fp32 = DType::Float32.bytes();
    let (stored, state_bytes, master) = match precision {
        Precision::Full(dtype) => (dtype.bytes(), dtype.bytes(), 0),
        Precision::Mixed(half) => (half.bytes(), fp32, fp32),
    };
    TrainingMemory {
        weights: params.checked_mul(stored),
        gradients: trainable.checked_mul(stored),
        // A count has no shapes: Adafactor's state is taken as unfactored here (plans factor it).
        optimizer_state: optimizer.state_bytes(&[trainable], state_bytes),
        master_weights: trainable.checked_mul(master),
    }
}

/// Bytes per parameter for a training set-up: 16 for Adam under mixed precision, 16 for Adam in fp32.
pub fn bytes_per_param(precision: Precision, optimizer: Optimizer) -> u64 {
    training_of(1, 1, precision, optimizer)
        .total()
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINEAR_4096: u64 = 16_781_312;

    #[test]
    fn adam_times_three_and_four() {
        let m = training_of(
            LINEAR_4096,
            LINEAR_4096,
            Precision::Full(DType::Float32),
            Optimizer::Adam,
        );
        assert_eq!(m.weights, Some(67_125_248));
        assert_eq!(m.without_gradients(), Some(3 * 67_125_248));
        assert_eq!(m.total(), Some(4 * 67_125_248));
        assert_eq!(
            crate::units::binary(m.without_gradients().unwrap()),
            "192.05 MiB"
        );
        assert_eq!(crate::units::binary(m.total().unwrap()), "256.06 MiB");
    }

    #[test]
    fn frozen_parameters_get_no_gradients_or_optimizer_state() {
        // models/frozen_backbone.pt: 2,117 parameters, 709 trainable.
        let m = training_of(2_117, 709, Precision::Full(DType::Float32), Optimizer::Adam);
        assert_eq!(m.weights, Some(2_117 * 4));
        assert_eq!(m.gradients, Some(709 * 4));
        assert_eq!(m.optimizer_state, Some(709 * 8));
        assert_eq!(m.master_weights, Some(0));
        let mixed = training_of(
            2_117,
            709,
            Precision::Mixed(DType::BFloat16),
            Optimizer::AdamW,
        );
        assert_eq!(mixed.weights, Some(2_117 * 2));
        assert_eq!(mixed.gradients, Some(709 * 2));
        assert_eq!(mixed.optimizer_state, Some(709 * 8));
        assert_eq!(mixed.master_weights, Some(709 * 4));
    }

    #[test]
    fn overflow_is_reported_not_saturated() {
        // 2^60 parameters take 2^62 bytes of weights, but ×4 for Adam is 2^64: one past u64::MAX.
        let n = 1u64 << 60;
        let full = Precision::Full(DType::Float32);
        let both = training_of(n, n, full, Optimizer::Adam);
        assert_eq!(both.total(), None);
        assert_eq!(both.without_gradients(), Some(3 << 62));
        // Only the sums overflow: every figure on its own is exact, and stays printable.
        assert_eq!(both.weights, Some(1 << 62));
        assert_eq!(both.gradients, Some(1 << 62));
        assert_eq!(both.optimizer_state, Some(1 << 63));
        assert_eq!(
            training_of(n, 0, full, Optimizer::Adam).total(),
            Some(1 << 62)
        );
        let huge = training_of(u64::MAX, 0, full, Optimizer::Sgd);
        assert_eq!((huge.weights, huge.gradients), (None, Some(0)));
        assert_eq!(huge.total(), None);
    }

    #[test]
    fn labels_match_the_figures() {
        assert!(MIXED_ADAM_LABEL.contains(&format!(
            "{} B/param",
            bytes_per_param(Precision::Mixed(DType::Float16), Optimizer::Adam)
        )));
        assert!(ADAM_LABEL.contains("×3") && FULL_TRAINING_LABEL.contains("×4"));
        // The row label is the same words, capitalised.
        assert_eq!(
            FULL_TRAINING_ROW_LABEL.to_lowercase(),
            FULL_TRAINING_LABEL.to_lowercase()
        );
        assert!(FULL_TRAINING_ROW_LABEL.starts_with('F'));
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
