//! Argument definitions (clap derive): what each command takes, with its `--help` text.

use crate::dtype::DType;
use crate::reports::Format;
use crate::reports::table::Column;
use crate::sources::LoadOptions;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "tchinfo",
    version,
    about = "Show what is inside a neural network: module tree, parameters, output shapes and memory",
    long_about = "Show what is inside a neural network: module tree, parameter counts per layer, output \
                  shapes, where the parameters sit and how much memory weights and training state take.\n\n\
                  `tchinfo MODEL` is short for `tchinfo summary MODEL`. MODEL is a built-in architecture \
                  (`tchinfo list`) or a saved model: TorchScript, torch.save (state dict, checkpoint, whole model), \
                  safetensors (a file, a shard set, a Hugging Face model folder), GGUF, torch.export .pt2 \
                  or ONNX.\n\n\
                  What runs: a file's structure is read as data, never executed. Only --input-size on a \
                  TorchScript file runs the file's own code (its forward pass, once), and only in a \
                  sandboxed child process that may not write files, use the network or start programs, \
                  reads nothing but the model and libtorch where the kernel has Landlock, and is stopped \
                  at --timeout and --max-memory; tchinfo says so on stderr when it starts it. Built-in \
                  architectures are tchinfo's own code and run in-process.\n\n\
                  Units: KiB, MiB, GiB are powers of 2^10 bytes; KB, MB, GB powers of 10^3. Every figure \
                  names the unit it was computed in.",
    after_help = "Examples:\n  tchinfo vgg16\n  tchinfo summary resnet50 --depth 2 --batch-size 8\n  \
                  tchinfo model.pt --input-size 1,3,224,224\n  tchinfo compare vgg16 resnet50 googlenet\n  \
                  tchinfo linear 4096 4096 --no-bias"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The layer table: module tree, output shapes, parameters, mult-adds, and a footer with totals,
    /// where the parameters sit and memory.
    Summary(SummaryArgs),
    /// Several models side by side: parameters by layer kind, heads, mult-adds and memory.
    Compare(CompareArgs),
    /// Memory for training (or inference) at a batch size, and the largest batch that fits a budget.
    ///
    /// Training: the peak of a steady-state step, the max over its phases (forward, backward, optimizer
    /// step) with weights, optimizer state (and float32 master weights under mixed precision) resident.
    /// Activations are measured for built-in image models: real training steps (training mode, forward
    /// and backward) at batches 1 and 2 under a counting allocator, extended in a straight line to any
    /// batch. Transformer language models (gpt2, Llama-3.1-8B … or a config.json) are planned from
    /// their architecture with Korthikanti et al.'s formula, no weights needed, over --gpus with ZeRO
    /// and tensor parallelism. Files are estimated from their leaf outputs. Inference = weights + the
    /// largest live activations (2 × the largest layer output). KiB/MiB/GiB = 2^10/2^20/2^30 bytes,
    /// KB/MB/GB = 10^3/10^6/10^9.
    Plan(PlanArgs),
    /// Find convolutions and Linear layers whose bias feeds straight into a BatchNorm (wasted parameters).
    Lint(LintArgs),
    /// Parameters and memory of one Linear (fully connected) layer.
    Linear(LinearArgs),
    /// The built-in architectures: name, family, default input and parameter count.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A built-in architecture or a model file (files need --input-size, and then run in the sandbox).
    pub model: OsString,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Optimizer: sgd (no state), momentum (1 state), adam or adamw (2 states), adafactor (factored
    /// second moments), adam8bit (two 1-byte states).
    #[arg(long, default_value = "adam")]
    pub optimizer: crate::memory::Optimizer,
    /// Precision: fp32; bf16-mixed or fp16-mixed (16-bit weights, gradients and activations, float32
    /// master weights and optimizer state); bf16 or fp16 (everything in 16 bits). Default: fp32, or for
    /// a transformer's weights file the precision its dtype implies (bfloat16 → bf16-mixed; quantized
    /// GGUF → bf16-mixed, its weights counted as stored).
    #[arg(long)]
    pub precision: Option<crate::memory::Precision>,
    /// GPUs in all; the batch size is per GPU. With --zero, data parallelism shards the training state.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub gpus: u64,
    /// ZeRO stage over the data-parallel GPUs: 1 shards optimizer state and master weights, 2 the
    /// gradients too, 3 the weights too.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub zero: u8,
    /// Tensor-parallel size (with sequence parallelism): weights and a layer's activations split over
    /// this many of the GPUs. Transformer plans only.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub tensor_parallel: u64,
    /// Activation recomputation for transformer plans: none, selective (the attention core) or full
    /// (each layer's input kept, the layer recomputed in backward).
    #[arg(long, default_value = "none", value_parser = parse_checkpointing)]
    pub checkpointing: crate::plan::Checkpointing,
    /// Attention for transformer plans: fused (flash / memory-efficient kernels: no s×s tensor kept) or
    /// eager (softmax and dropout kept, as PyTorch's math kernel does). Default: fused, except on
    /// --device cpu for a model with attention dropout, where PyTorch's sdpa takes its math kernel.
    #[arg(long, value_parser = parse_attention)]
    pub attention: Option<crate::plan::AttentionKind>,
    /// The device the training runs on: gpu (dropout keeps 1-byte masks, fused attention; the CUDA
    /// context and workspaces are named as not included) or cpu (dropout keeps masks as wide as the
    /// activations, and attention that drops out takes sdpa's math kernel, as PyTorch does on a CPU).
    #[arg(long, default_value = "gpu")]
    pub device: crate::plan::Device,
    /// Fine-tune only the parameters whose full name (model.layers.0.mlp.up_proj.weight) matches this
    /// regular expression; the rest are frozen (weights kept, no gradients, no optimizer state).
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub train: Option<regex::Regex>,
    /// Freeze the parameters whose full name matches this regular expression (after --train).
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub freeze: Option<regex::Regex>,
    /// LoRA: adapters of this rank on the attention projections (q, k, v, o), trained; the base frozen.
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub lora_rank: Option<u64>,
    /// The modules LoRA adapts: a regular expression over module paths (default: attention's q, k, v
    /// and output projections under Llama, GPT-2, BERT and llama.cpp names).
    #[arg(long, value_name = "REGEX", value_parser = parse_regex, requires = "lora_rank")]
    pub lora_targets: Option<regex::Regex>,
    /// Memory budget, e.g. 24GiB or 16GB: report the largest batch that fits.
    #[arg(long, value_parser = crate::units::parse_bytes)]
    pub budget: Option<u64>,
    /// Plan for inference instead of training: weights + the largest live activations.
    #[arg(long)]
    pub inference: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// A built-in architecture or a model file (with --input-size, files are checked on their data flow).
    pub model: OsString,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Classes of the classifier for built-in architectures (default: the architecture's own, 1000).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub num_classes: Option<i64>,
    /// Input shape: C,H,W or N,C,H,W for built-ins, the full shape (e.g. 1,3,224,224) for files. Repeat
    /// for a forward that takes several inputs. For a TorchScript file this runs the file's own code
    /// (its forward, once) in a sandboxed child process: no file writes, no network, no new processes,
    /// reads limited to the model where the kernel has Landlock, within --timeout and --max-memory.
    /// For a .pt2 or ONNX file the sizes the file records are evaluated at these, with nothing run.
    /// Without it, nothing from a file is ever executed: its structure is read as data.
    #[arg(long = "input-size", value_name = "DIMS", value_parser = parse_dims)]
    pub input_sizes: Vec<Vec<i64>>,
    /// Batch size for the forward pass: replaces the first dimension of every input size (a built-in's
    /// N,C,H,W too). Default: the sizes as given; 1 for a built-in's C,H,W.
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub batch_size: Option<i64>,
    /// Element type of file inputs: f32 (default), f16, bf16, f64, i64 (token ids), bool … One per
    /// --input-size, in order (repeat it, or separate with commas: f32,i64); a single one applies to
    /// every input. Integer inputs an Embedding reads get token ids in its range.
    #[arg(long, value_delimiter = ',')]
    pub dtype: Vec<DType>,
    /// Tokens per sequence for a built-in language model (gpt2, bert-base-uncased, Llama-3.1-8B …);
    /// default 128. The batch is --batch-size (default 1).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub seq_len: Option<i64>,
    /// Do not run a forward pass: structure and parameters only.
    #[arg(long)]
    pub no_forward: bool,
    /// Wall-time limit of a file's sandboxed forward pass, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = crate::sandbox::parse_timeout)]
    pub timeout: Duration,
    /// Memory limit of a file's sandboxed forward pass, e.g. 4GiB (default: half of this machine's
    /// memory).
    #[arg(long, value_name = "SIZE", value_parser = crate::units::parse_bytes)]
    pub max_memory: Option<u64>,
}

impl SourceArgs {
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            num_classes: self.num_classes,
            input_sizes: self.input_sizes.clone(),
            batch_size: self.batch_size,
            dtypes: self.dtype.clone(),
            seq_len: self.seq_len,
            forward: !self.no_forward,
            timeout: Some(self.timeout),
            max_memory: self.max_memory,
        }
    }
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout: a regular file is replaced atomically (never the
    /// model itself); a FIFO, a terminal or /dev/stdout is written straight into.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With --output: write through a symbolic link (refused otherwise, as a planted link would
    /// redirect the write) and onto a device that is not a terminal.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// A built-in architecture (see `tchinfo list`; `builtin:NAME` to be explicit) or a model file or
    /// folder: TorchScript, torch.save, safetensors, a Hugging Face folder, GGUF, .pt2, ONNX (`./NAME`
    /// when a file has a built-in's name).
    pub model: OsString,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Show modules down to this depth; deeper ones are folded into their parent row, which then shows its
    /// whole subtree's parameters and mult-adds.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Columns after the layer column, comma separated: output, params, percent, mult-adds (operator
    /// mult-adds), torchinfo-mult-adds (torchinfo's parameter-based count), trainable.
    #[arg(long, value_delimiter = ',', default_values_t = Column::DEFAULT.map(|c| c.key().to_string()))]
    pub columns: Vec<String>,
    /// Plain ASCII tree glyphs and bars.
    #[arg(long)]
    pub ascii: bool,
    /// Show each module's name beside its type: `Conv2d (0): 2-1`.
    #[arg(long)]
    pub var_names: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more built-in names or model files.
    #[arg(required = true, num_args = 2..)]
    pub models: Vec<OsString>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LinearArgs {
    /// Input features (IN).
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    pub in_features: u64,
    /// Output features (OUT).
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    pub out_features: u64,
    /// Leave out the bias (as `bias=False`), and show what that saves.
    #[arg(long)]
    pub no_bias: bool,
    /// Element type of the weights: f32, f16, bf16, f64 or i8.
    #[arg(long, default_value = "f32", value_parser = parse_linear_dtype)]
    pub dtype: DType,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The weights' dtypes `linear` offers: fewer than an input's `--dtype` takes, so it names its own.
const LINEAR_DTYPES: &str = "(use f32, f16, bf16, f64 or i8)";

fn parse_linear_dtype(s: &str) -> Result<DType, String> {
    match s.parse::<DType>() {
        Ok(
            d @ (DType::Float32 | DType::Float16 | DType::BFloat16 | DType::Float64 | DType::Int8),
        ) => Ok(d),
        Ok(other) => Err(format!("dtype {other} is not offered here {LINEAR_DTYPES}")),
        Err(_) => Err(format!("unknown dtype '{s}' {LINEAR_DTYPES}")),
    }
}

fn parse_regex(s: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(s)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("not a regular expression: {e}"))
}

impl PlanArgs {
    /// The precision asked for, else float32.
    pub fn precision_or_fp32(&self) -> crate::memory::Precision {
        self.precision
            .unwrap_or(crate::memory::Precision::Full(crate::dtype::DType::Float32))
    }

    /// How --gpus, --zero and --tensor-parallel split the work.
    pub fn parallelism(&self) -> crate::plan::Parallelism {
        crate::plan::Parallelism {
            gpus: self.gpus,
            zero: self.zero,
            tensor_parallel: self.tensor_parallel,
        }
    }

    /// What --train, --freeze and --lora-rank ask for.
    pub fn finetune(&self) -> crate::plan::finetune::Finetune {
        crate::plan::finetune::Finetune {
            train: self.train.clone(),
            freeze: self.freeze.clone(),
            lora_rank: self.lora_rank,
            lora_targets: self.lora_targets.clone(),
        }
    }
}

fn parse_checkpointing(s: &str) -> Result<crate::plan::Checkpointing, String> {
    use crate::plan::Checkpointing;
    match s.to_ascii_lowercase().as_str() {
        "none" | "no" => Ok(Checkpointing::None),
        "selective" => Ok(Checkpointing::Selective),
        "full" => Ok(Checkpointing::Full),
        _ => Err(format!(
            "unknown checkpointing '{s}' (use none, selective or full)"
        )),
    }
}

fn parse_attention(s: &str) -> Result<crate::plan::AttentionKind, String> {
    use crate::plan::AttentionKind;
    match s.to_ascii_lowercase().as_str() {
        "fused" | "flash" | "sdpa" => Ok(AttentionKind::Fused),
        "eager" | "math" => Ok(AttentionKind::Eager),
        _ => Err(format!("unknown attention '{s}' (use fused or eager)")),
    }
}

/// `3,224,224`, `1x3x224x224` or `1 3 224 224`: positive dimensions.
pub fn parse_dims(s: &str) -> Result<Vec<i64>, String> {
    let dims: Result<Vec<i64>, String> = s
        .split([',', 'x', 'X', ' ', '×'])
        .filter(|p| !p.is_empty())
        .map(|p| match p.trim().parse::<i64>() {
            Ok(d) if d > 0 => Ok(d),
            _ => Err(format!("'{p}' in '{s}' is not a positive dimension")),
        })
        .collect();
    let dims = dims?;
    if dims.is_empty() {
        return Err(format!("'{s}' has no dimensions (example: 3,224,224)"));
    }
    Ok(dims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_names_its_own_dtypes_and_inputs_theirs() {
        assert_eq!(
            parse_linear_dtype("f128").unwrap_err(),
            "unknown dtype 'f128' (use f32, f16, bf16, f64 or i8)"
        );
        assert_eq!(
            parse_linear_dtype("i64").unwrap_err(),
            "dtype int64 is not offered here (use f32, f16, bf16, f64 or i8)"
        );
        assert_eq!(parse_linear_dtype("bf16"), Ok(DType::BFloat16));
        // An input's --dtype takes token ids too, and its hint says so.
        let e = "f128".parse::<DType>().unwrap_err();
        assert!(e.contains("i64"), "{e}");
    }
}
