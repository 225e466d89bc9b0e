//! What the parameters cost per GPU during training: weights, gradients, optimizer state and float32
//! master weights, split over GPUs by data parallelism with ZeRO (stage 1 shards the optimizer state and
//! master weights, 2 the gradients as well, 3 the weights too) and by tensor parallelism; and the
//! optimizer step's own temporaries.

use crate::memory::{Optimizer, Precision, TrainingMemory};
use crate::summary::ModuleNode;

/// How the work is split over GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallelism {
    /// GPUs in all (1: no parallelism).
    pub gpus: u64,
    /// ZeRO stage 0–3 over the data-parallel GPUs.
    pub zero: u8,
    /// Tensor-parallel size: each layer's weights and activations split over this many GPUs (with
    /// sequence parallelism). The data-parallel size is `gpus / tensor_parallel`.
    pub tensor_parallel: u64,
}

impl Default for Parallelism {
    fn default() -> Self {
        Parallelism {
            gpus: 1,
            zero: 0,
            tensor_parallel: 1,
        }
    }
}

impl Parallelism {
    pub fn data_parallel(&self) -> u64 {
        (self.gpus / self.tensor_parallel.max(1)).max(1)
    }

    /// Why these settings cannot be used together, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.gpus == 0 || self.tensor_parallel == 0 {
            return Err("--gpus and --tensor-parallel must be at least 1".into());
        }
        if self.zero > 3 {
            return Err(format!("ZeRO has stages 0 to 3, not {}", self.zero));
        }
        if !self.gpus.is_multiple_of(self.tensor_parallel) {
            return Err(format!(
                "--gpus {} is not a multiple of --tensor-parallel {}",
                self.gpus, self.tensor_parallel
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateOptions {
    pub optimizer: Optimizer,
    pub precision: Precision,
    pub parallelism: Parallelism,
    /// Inference: the weights alone.
    pub inference: bool,
}

/// The parameters' memory on one GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainingState {
    /// Each part per GPU; `None` when it overflows 64 bits.
    pub per_gpu: TrainingMemory,
    /// Temporaries of the optimizer step on top of the state (PyTorch's per-tensor update keeps two of
    /// the largest trainable tensor's size at once); `None` on overflow.
    pub optimizer_temporaries: Option<u64>,
    /// Under ZeRO stage 3: the whole weights one GPU gathers at once for the forward and the backward
    /// (see [`zero3_gathered`]); `None` otherwise.
    pub gathered: Option<Gathered>,
}

/// Weights ZeRO-3 gathers whole on each GPU while a layer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gathered {
    pub bytes: u64,
    /// Which layer: "one transformer block" or "the embedding".
    pub what: &'static str,
}

/// Stage 3 shards the weights, so each GPU gathers a layer's full weights (in the stored width,
/// 16 bits under mixed precision) before running it, forward and backward, and frees them after;
/// DeepSpeed's estimator counts the largest layer. Here the largest of a transformer block (the
/// modules `layers.N`, `h.N`, `layer.N`, `blk.N`) and an embedding table; other models, their largest
/// module's own weights. Split by tensor parallelism only (each rank gathers its slice). `None` below
/// stage 3.
pub fn zero3_gathered(
    root: &ModuleNode,
    bytes_per_param: u64,
    p: &Parallelism,
) -> Option<Gathered> {
    if p.zero < 3 {
        return None;
    }
    let is_block = |path: &str| {
        let mut parts = path.rsplit('.');
        let (last, list) = (parts.next(), parts.next());
        last.is_some_and(|l| !l.is_empty() && l.bytes().all(|c| c.is_ascii_digit()))
            && matches!(list, Some("layers" | "h" | "layer" | "blk"))
    };
    let is_embedding = |n: &ModuleNode| {
        n.type_name == "Embedding"
            || ["embed_tokens", "wte", "word_embeddings", "token_embd"].contains(&n.name.as_str())
    };
    let mut block = 0u64;
    let mut embedding = 0u64;
    let mut own = 0u64;
    for (_, n) in root.walk() {
        if is_block(&n.path) {
            block = block.max(n.subtree_params());
        } else if is_embedding(n) {
            embedding = embedding.max(n.own_params());
        }
        own = own.max(n.own_params());
    }
    let (params, what) = match (block, embedding) {
        (0, 0) => (own, "the largest module"),
        (b, e) if e > b => (e, "the embedding"),
        (b, _) => (b, "one transformer block"),
    };
    let bytes = params
        .checked_mul(bytes_per_param)?
        .div_ceil(p.tensor_parallel.max(1));
    Some(Gathered { bytes, what })
}

/// One parameter tensor as the plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamTensor {
    pub shape: Vec<u64>,
    pub trainable: bool,
}

/// Every parameter of the tree (tied duplicates once).
pub fn param_tensors(root: &ModuleNode) -> Vec<ParamTensor> {
    root.walk()
        .iter()
        .flat_map(|(_, n)| n.parameters.iter())
        .filter(|p| !p.is_tied())
        .map(|p| ParamTensor {
            shape: p.shape.clone(),
            trainable: p.requires_grad,
        })
        .collect()
}

fn numel(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
}

fn sum(mut values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.try_fold(0u64, |a, v| a.checked_add(v?))
}

/// Tensor parallelism splits everything; ZeRO splits over the data-parallel GPUs from its stage on.
fn split_by(bytes: u64, p: &Parallelism, from_stage: u8) -> u64 {
    let b = bytes.div_ceil(p.tensor_parallel.max(1));
    if p.zero >= from_stage && from_stage > 0 {
        b.div_ceil(p.data_parallel())
    } else {
        b
    }
}

/// Weights of `bytes` in all, per GPU (split by tensor parallelism, and by ZeRO stage 3).
pub fn split_weights(bytes: u64, p: &Parallelism) -> u64 {
    split_by(bytes, p, 3)
}

/// The state of `tensors` trained as `options` say.
pub fn state_of(tensors: &[ParamTensor], options: &StateOptions) -> TrainingState {
    let fp32 = 4u64;
    let (stored, state_bytes, master) = match options.precision {
        Precision::Full(d) => (d.bytes(), d.bytes(), 0),
        Precision::Mixed(half) => (half.bytes(), fp32, fp32),
    };
    let params = sum(tensors.iter().map(|t| numel(&t.shape)));
    let trained: Vec<&ParamTensor> = if options.inference {
        Vec::new()
    } else {
        tensors.iter().filter(|t| t.trainable).collect()
    };
    let trainable = sum(trained.iter().map(|t| numel(&t.shape)));
    let optimizer_state = sum(trained
        .iter()
        .map(|t| options.optimizer.state_bytes(&t.shape, state_bytes)));
    let p = options.parallelism;
    let tp = p.tensor_parallel.max(1);
    let split = |bytes: Option<u64>, from_stage: u8| bytes.map(|b| split_by(b, &p, from_stage));
    let per_gpu = TrainingMemory {
        weights: split(params.and_then(|n| n.checked_mul(stored)), 3),
        gradients: split(trainable.and_then(|n| n.checked_mul(stored)), 2),
        optimizer_state: split(optimizer_state, 1),
        master_weights: split(trainable.and_then(|n| n.checked_mul(master)), 1),
    };
    let largest = trained
        .iter()
        .filter_map(|t| numel(&t.shape))
        .max()
        .unwrap_or(0);
    let temporaries_per_element = match options.optimizer {
        _ if options.inference => 0,
        Optimizer::Sgd | Optimizer::Momentum | Optimizer::Adam8bit => 0,
        Optimizer::Adam | Optimizer::AdamW | Optimizer::Adafactor => 2 * state_bytes.max(stored),
    };
    TrainingState {
        per_gpu,
        optimizer_temporaries: largest.div_ceil(tp).checked_mul(temporaries_per_element),
        gathered: None,
    }
}

/// The training state of `params` parameters, all trained with mixed-precision Adam, under the
/// conventions people quote, per parameter: (label, bytes per parameter).
pub const CONVENTIONS: [(&str, u64); 4] = [
    (
        "float32 Adam: weights 4 + gradients 4 + momentum 4 + variance 4",
        16,
    ),
    (
        "mixed precision Adam, ZeRO's count: 16-bit weights 2 + gradients 2, float32 master weights, momentum, variance 12",
        16,
    ),
    (
        "mixed precision AdamW, Hugging Face's count (float32 gradients kept as well)",
        18,
    ),
    (
        "DeepSpeed's estimator on one GPU (2 + 18 bytes, ZeRO stages 1–2)",
        20,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    fn tensors() -> Vec<ParamTensor> {
        vec![
            ParamTensor {
                shape: vec![1000, 1000],
                trainable: true,
            },
            ParamTensor {
                shape: vec![1000],
                trainable: true,
            },
        ]
    }

    fn options(precision: Precision, gpus: u64, zero: u8) -> StateOptions {
        StateOptions {
            optimizer: Optimizer::Adam,
            precision,
            parallelism: Parallelism {
                gpus,
                zero,
                tensor_parallel: 1,
            },
            inference: false,
        }
    }

    #[test]
    fn mixed_precision_adam_is_sixteen_bytes_and_zero_shards_it() {
        let n = 1_001_000u64;
        let one = state_of(
            &tensors(),
            &options(Precision::Mixed(DType::BFloat16), 1, 0),
        );
        assert_eq!(one.per_gpu.total(), Some(16 * n));
        // ZeRO over 8 GPUs: stage 1 4Ψ + 12Ψ/8, stage 2 2Ψ + 14Ψ/8, stage 3 16Ψ/8.
        let mixed = Precision::Mixed(DType::BFloat16);
        let s1 = state_of(&tensors(), &options(mixed, 8, 1)).per_gpu.total();
        let s2 = state_of(&tensors(), &options(mixed, 8, 2)).per_gpu.total();
        let s3 = state_of(&tensors(), &options(mixed, 8, 3)).per_gpu.total();
        assert_eq!(s1, Some(4 * n + 12 * n / 8));
        assert_eq!(s2, Some(2 * n + 14 * n / 8));
        assert_eq!(s3, Some(16 * n / 8));
    }

    /// Llama-3.1-8B under ZeRO-3 in bf16: a block is 218,112,000 parameters, the embedding
    /// 525,336,576 (128,256 × 4,096): the embedding is gathered, 2 bytes each.
    #[test]
    fn zero3_gathers_the_largest_block_or_the_embedding() {
        let tree = crate::architectures::presets::find("Llama-3.1-8B")
            .unwrap()
            .architecture()
            .module_tree();
        let p = |zero| Parallelism {
            gpus: 8,
            zero,
            tensor_parallel: 1,
        };
        assert_eq!(zero3_gathered(&tree, 2, &p(2)), None);
        assert_eq!(
            zero3_gathered(&tree, 2, &p(3)),
            Some(Gathered {
                bytes: 2 * 128_256 * 4096,
                what: "the embedding"
            })
        );
        // With a 32,000-word vocabulary the block is larger: q, o 4096², k, v 4096·1024, gate, up,
        // down 4096·14336, two norms.
        let block = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096;
        assert_eq!(block, 218_112_000);
        let small_vocab = crate::architectures::Architecture::from_json(
            &crate::architectures::presets::find("Llama-3.1-8B")
                .unwrap()
                .config_json
                .replace("128256", "32000"),
        )
        .unwrap()
        .module_tree();
        assert_eq!(
            zero3_gathered(&small_vocab, 2, &p(3)),
            Some(Gathered {
                bytes: 2 * block,
                what: "one transformer block"
            })
        );
    }

    #[test]
    fn adam_temporaries_are_two_of_the_largest_tensor() {
        let s = state_of(&tensors(), &options(Precision::Full(DType::Float32), 1, 0));
        assert_eq!(s.optimizer_temporaries, Some(2 * 4 * 1_000_000));
    }

    #[test]
    fn adafactor_factors_matrices_and_8bit_adam_takes_two_bytes() {
        let t = tensors();
        let mut o = options(Precision::Full(DType::Float32), 1, 0);
        o.optimizer = Optimizer::Adafactor;
        assert_eq!(
            state_of(&t, &o).per_gpu.optimizer_state,
            Some(4 * 2000 + 4 * 1000)
        );
        o.optimizer = Optimizer::Adam8bit;
        let blocks = 1_000_000u64.div_ceil(2048) + 1;
        assert_eq!(
            state_of(&t, &o).per_gpu.optimizer_state,
            Some(2 * 1_001_000 + 8 * blocks)
        );
    }
}
