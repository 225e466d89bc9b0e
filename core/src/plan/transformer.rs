//! Activations of a transformer from its architecture alone: the per-layer formula of Korthikanti et
//! al. 2022 ("Reducing Activation Recomputation in Large Transformer Models"), generalised to the
//! architectures tchinfo reads (grouped KV heads, gated MLPs, mixtures of experts, no dropout).
//!
//! Per layer, with `s` tokens per sequence, `b` sequences, hidden size `h`, `a` heads, activations of
//! `w` bytes and dropout masks of `m` bytes (the paper: w = 2, m = 1, a 4h GeLU MLP, K and V as wide as
//! Q), the bytes autograd keeps are `s·b·h·(34 + 5·a·s/h)`:
//! - attention `s·b·(w·h [QKV input] + w·h [Q] + 2·w·kv [K, V] + w·h [output projection input] + m·h
//!   [dropout mask])`, plus, unless attention is fused (flash), `a·s²·b·(w [softmax] + m + w [its
//!   dropout mask and output])`;
//! - MLP `s·b·(w·h [input] + w·i [activation input] + w·i [second projection input] + m·h)`; a gated
//!   MLP (SwiGLU) keeps `w·h + 4·w·i`, once per expert each token is routed to;
//! - two norms, `2·w·h·s·b`; transformers' RMSNorm (Llama family) keeps a float32 copy of its input
//!   and the normalized tensor, `2·(4 + w)·h·s·b`; Llama-family attention through sdpa also keeps the
//!   merged heads' output (`w·q`, a copy for the output projection) and a float32 log-sum-exp per head;
//! - GPT-2's `gelu_new`, written as Python operators, keeps three more ffn-wide tensors; a language
//!   model's head keeps its input (the final norm's output).
//! - a BERT-style encoder (`BertModel`) also keeps its LayerNorms' float32 mean and reciprocal
//!   deviation (8 bytes per token per norm), the int64 ids it looks up, and, for the pooler, the whole
//!   last hidden state (the first token is a view of it) and the tanh output.
//!
//! These Llama-family terms come from the saved tensors of real runs (models/measure_training.py on
//! the tiny samples; BENCHMARKS.md), where the bare formula was 12–17% short; the BERT terms close
//! the last 1.8% of the tiny BERT's run exactly.
//!
//! Under a fine-tune ([`super::trainable`]: frozen parts, LoRA adapters) each of these tensors is
//! counted only when the backward needs it: a projection's input when its weight or an adapter on it
//! is trained, an operation's own saved tensors when its input needs a gradient (so nothing below the
//! first trained part), RMSNorm's normalized tensor when its weight is trained; each adapter adds its
//! rank-wide intermediate (`w·r`). Checked against real LoRA and frozen-layer runs of the tiny Llama
//! and GPT-2 (BENCHMARKS.md).
//!
//! Full recomputation keeps each layer's input (`w·h·s·b`) and, during backward, one layer's activations
//! at a time; selective recomputation drops the `s²` terms. Tensor parallelism with sequence
//! parallelism divides everything per layer by its size. Outside the layers: the embeddings' dropout
//! mask, the final norm's input, and for a language-model head the float32 log-probabilities the
//! cross-entropy keeps (4 bytes per vocabulary entry per token; the logits are not saved).

use super::trainable::{LayerTraining, Part, Training};
use crate::architectures::{Architecture, BertHead, Tokens};

/// Which activations are recomputed in backward instead of kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checkpointing {
    #[default]
    None,
    /// Only the attention core (the `s²` tensors) is recomputed (Korthikanti's selective recomputation).
    Selective,
    /// Every layer is recomputed from its input.
    Full,
}

/// How attention is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttentionKind {
    /// Fused (flash / memory-efficient sdpa kernels): no `s×s` tensor is kept.
    #[default]
    Fused,
    /// Eager (or sdpa's math kernel): the softmax output, and with dropout its mask and output, kept.
    Eager,
}

/// The formula's inputs beyond the architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormulaOptions {
    pub tokens: Tokens,
    /// Bytes per activation element: 2 for 16-bit training, 4 for float32.
    pub activation_bytes: u64,
    /// Bytes per dropout-mask element: 1, as PyTorch keeps them (a bool mask, on CUDA and CPU).
    pub mask_bytes: u64,
    pub attention: AttentionKind,
    pub checkpointing: Checkpointing,
    pub tensor_parallel: u64,
}

/// What the formula gives.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformerActivations {
    pub layers: u64,
    /// Bytes one layer keeps without recomputation.
    pub per_layer: u64,
    /// Bytes the layers keep as the checkpointing asks (all of them without it).
    pub layers_kept: u64,
    /// One layer's activations, recomputed during backward under full checkpointing (else 0).
    pub recompute_transient: u64,
    /// Embedding dropout mask, final norm input.
    pub outside_layers: u64,
    /// Logits and the float32 log-probabilities of the loss (0 without a language-model head).
    pub logits_and_loss: u64,
    /// LoRA adapters' own intermediates (0 without adapters; see [`super::finetune`]).
    pub adapters: u64,
    /// Parameters of the language-model head (vocabulary × hidden; 0 without one, or when it is
    /// frozen): their gradient is the first the backward makes, before any activation is freed.
    pub head_params: u64,
    /// The formula in words, for the plan's line about it.
    pub formula: String,
}

impl TransformerActivations {
    /// Everything held for backward after the forward.
    pub fn held(&self) -> u64 {
        self.layers_kept + self.outside_layers + self.logits_and_loss + self.adapters
    }
}

struct Dims {
    layers: u64,
    hidden: u64,
    heads: u64,
    q_width: u64,
    kv_width: u64,
    ffn: u64,
    gated: bool,
    /// Experts each token goes through (1 without a mixture of experts), and experts in all.
    routed: (u64, u64),
    dropout: bool,
    lm_head: bool,
    vocab: u64,
    /// Extra ffn-wide tensors the activation keeps beyond its input: GPT-2's `gelu_new` is written as
    /// Python operators (`0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`), which keep three more.
    activation_extra: u64,
    /// A BERT-style encoder (`BertModel`): its LayerNorms' float32 mean and reciprocal deviation, the
    /// int64 ids its embeddings look up, and the pooler (the last hidden state and the tanh output).
    /// `Some(max_position_embeddings)`: the length of its position and token-type id buffers, which
    /// the embeddings keep whole (the ids used are slices of them).
    encoder: Option<u64>,
    /// The head on a BERT-style encoder, as the config's `architectures` names it.
    encoder_head: BertHead,
}

fn dims(arch: &Architecture) -> Dims {
    match arch {
        Architecture::Gpt2(c) => Dims {
            layers: c.n_layer,
            hidden: c.n_embd,
            heads: c.n_head,
            q_width: c.n_embd,
            kv_width: c.n_embd,
            ffn: c.inner(),
            gated: false,
            routed: (1, 1),
            // transformers' GPT-2 defaults: embd, attn and resid dropout 0.1.
            dropout: true,
            lm_head: true,
            vocab: c.vocab_size,
            activation_extra: if c.activation_function == crate::architectures::Activation::GeluNew
            {
                3
            } else {
                0
            },
            encoder: None,
            encoder_head: BertHead::Pooler,
        },
        Architecture::Bert(c) => Dims {
            layers: c.num_hidden_layers,
            hidden: c.hidden_size,
            heads: c.num_attention_heads,
            q_width: c.hidden_size,
            kv_width: c.hidden_size,
            ffn: c.intermediate_size,
            gated: false,
            routed: (1, 1),
            // hidden and attention-probabilities dropout 0.1; a masked LM's decoder is a language
            // model's head (logits over the vocabulary, the loss's log-probabilities).
            dropout: true,
            lm_head: c.head == BertHead::MaskedLm,
            vocab: c.vocab_size,
            activation_extra: 0,
            encoder: Some(c.max_position_embeddings),
            encoder_head: c.head,
        },
        Architecture::Llama(c) => {
            let head_dim = c.head_dim();
            Dims {
                layers: c.num_hidden_layers,
                hidden: c.hidden_size,
                heads: c.num_attention_heads,
                q_width: c.num_attention_heads * head_dim,
                kv_width: c.num_key_value_heads * head_dim,
                ffn: c.intermediate_size,
                gated: true,
                routed: c.experts().map_or((1, 1), |(n, k)| (k, n)),
                dropout: false,
                lm_head: true,
                vocab: c.vocab_size,
                activation_extra: 0,
                encoder: None,
                encoder_head: BertHead::Pooler,
            }
        }
    }
}

/// Whether the architecture drops out (then PyTorch's CPU sdpa takes its math kernel, eager attention).
pub fn has_dropout(arch: &Architecture) -> bool {
    dims(arch).dropout
}

/// The activations `arch` keeps for backward on `options.tokens` in full training.
pub fn activations(arch: &Architecture, options: &FormulaOptions) -> TransformerActivations {
    activations_trained(arch, options, &Training::full(arch.layers()))
}

/// What one layer keeps, per token (`linear`) and per token and head per key (`square`, eager
/// attention's `s²` tensors), and whether its output needs a gradient.
struct LayerKept {
    linear: u64,
    square: u64,
    adapters: u64,
    output_grad: bool,
}

/// One layer with `grad_in` telling whether its input needs a gradient. Each tensor is kept only when
/// the backward needs it: a projection's input when its weight (or an adapter on it) is trained, an
/// operation's saved inputs and outputs when its input needs a gradient. All trained, this is the
/// formula of the module's doc.
fn layer_kept(d: &Dims, options: &FormulaOptions, t: &LayerTraining, grad_in: bool) -> LayerKept {
    let (w, m) = (options.activation_bytes, options.mask_bytes);
    let mask = |width: u64| if d.dropout { m * width } else { 0 };
    let when = |cond: bool, bytes: u64| if cond { bytes } else { 0 };
    let (active, experts) = d.routed;
    let attention_square = match options.attention {
        AttentionKind::Fused => 0,
        AttentionKind::Eager => w + if d.dropout { m + w } else { 0 },
    };
    // Llama-family attention through sdpa: the heads' output is kept by the kernel and, merged back
    // (a copy), by the output projection; fused kernels keep a float32 log-sum-exp per head.
    let attention_extra = match (d.gated, options.attention) {
        (true, AttentionKind::Fused) => w * d.q_width + 4 * d.heads,
        (true, AttentionKind::Eager) => w * d.q_width,
        (false, _) => 0,
    };
    // A LayerNorm keeps its input whenever it is recorded (BERT's also show their float32 mean and
    // reciprocal deviation, 8 bytes per token). transformers' RMSNorm (the gated, Llama-family models)
    // computes in float32 and keeps that input copy (4 bytes) when its input needs a gradient, and the
    // normalized tensor before the weight (w) when the weight is trained.
    let norm = |grad: bool, part: &Part| {
        if d.gated {
            when(grad, 4 * d.hidden) + when(part.trained, w * d.hidden)
        } else {
            when(
                grad || part.makes_grad(),
                w * d.hidden + if d.encoder.is_some() { 8 } else { 0 },
            )
        }
    };
    let mut linear = 0;
    let pre_norm = d.encoder.is_none();
    // Attention.
    let mut grad = grad_in;
    if pre_norm {
        linear += norm(grad, &t.attention_norm);
        grad |= t.attention_norm.makes_grad();
    }
    linear += when(t.qkv.makes_grad(), w * d.hidden);
    let core = grad || t.qkv.makes_grad();
    linear += when(core, w * d.q_width + 2 * w * d.kv_width + attention_extra);
    linear += when(t.output.makes_grad(), w * d.q_width);
    let attended = core || t.output.makes_grad();
    linear += when(attended, mask(d.hidden));
    let mut grad = grad_in || attended;
    if !pre_norm {
        linear += norm(grad, &t.attention_norm);
        grad |= t.attention_norm.makes_grad();
    }
    // MLP.
    let residual = grad;
    if pre_norm {
        linear += norm(grad, &t.mlp_norm);
        grad |= t.mlp_norm.makes_grad();
    }
    let widened = grad || t.mlp_in.makes_grad();
    if d.gated {
        // Each routed expert keeps its own copy of its tokens: its input, gate, activation and up
        // outputs, and the product the down projection reads. A mixture of experts also keeps the
        // router's float32 probabilities, and each routed token's expert output and routing weight,
        // for the weighted sum.
        linear += active
            * (when(t.mlp_in.makes_grad(), w * d.hidden)
                + when(widened, 3 * w * d.ffn)
                + when(t.mlp_out.makes_grad(), w * d.ffn));
        if experts > 1 {
            linear += when(widened, 4 * experts + active * (w * d.hidden + 4));
        }
    } else {
        linear += when(t.mlp_in.makes_grad(), w * d.hidden)
            + when(widened, (1 + d.activation_extra) * w * d.ffn)
            + when(t.mlp_out.makes_grad(), w * d.ffn);
    }
    let projected = widened || t.mlp_out.makes_grad();
    linear += when(projected, mask(d.hidden));
    let mut grad = residual || projected;
    if !pre_norm {
        linear += norm(grad, &t.mlp_norm);
        grad |= t.mlp_norm.makes_grad();
    }
    LayerKept {
        linear,
        square: when(core, attention_square),
        adapters: w * t.lora_ranks(),
        output_grad: grad,
    }
}

/// The activations `arch` keeps for backward on `options.tokens` when `training` says which parts
/// are trained (see [`super::trainable`]): nothing below the first trained part, and in the layers
/// above only what the backward of trained parts and of the activations below needs.
pub fn activations_trained(
    arch: &Architecture,
    options: &FormulaOptions,
    training: &Training,
) -> TransformerActivations {
    let d = dims(arch);
    let (s, b) = (options.tokens.seq, options.tokens.batch);
    let (w, m) = (options.activation_bytes, options.mask_bytes);
    let sb = s.saturating_mul(b);
    let mask = |width: u64| if d.dropout { m * width } else { 0 };
    let when = |cond: bool, bytes: u64| if cond { bytes } else { 0 };
    let tp = options.tensor_parallel.max(1);
    let all = LayerTraining::default();
    let mut grad = training.embeddings;
    let (mut per_layer, mut layers_kept, mut adapters) = (0u64, 0u64, 0u64);
    for i in 0..d.layers {
        let t = training.layers.get(i as usize).unwrap_or(&all);
        let kept = layer_kept(&d, options, t, grad);
        let recorded = grad || t.any();
        grad = kept.output_grad;
        let linear_part = sb.saturating_mul(kept.linear);
        let square_part = d
            .heads
            .saturating_mul(s)
            .saturating_mul(sb)
            .saturating_mul(kept.square);
        let whole = linear_part.saturating_add(square_part).div_ceil(tp);
        per_layer = per_layer.max(whole);
        let layer_input = when(recorded, sb.saturating_mul(w * d.hidden).div_ceil(tp));
        layers_kept = layers_kept.saturating_add(match options.checkpointing {
            Checkpointing::None => whole,
            Checkpointing::Selective => linear_part.div_ceil(tp),
            Checkpointing::Full => layer_input,
        });
        if options.checkpointing != Checkpointing::Full {
            adapters = adapters.saturating_add(sb.saturating_mul(kept.adapters).div_ceil(tp));
        }
    }
    let recompute_transient = match options.checkpointing {
        Checkpointing::Full => per_layer,
        _ => 0,
    };
    // The final norm (as the layers' norms: RMSNorm keeps its float32 input and normalized tensor),
    // and the head keeps its input. BERT has no final norm: its embeddings' LayerNorm stands there.
    let head_input = when(training.head, w * d.hidden);
    let final_norm = match (d.gated, d.encoder.is_some()) {
        (true, _) => {
            when(grad, 4 * d.hidden) + when(training.final_norm, w * d.hidden) + head_input
        }
        (false, false) => when(grad || training.final_norm, w * d.hidden) + head_input,
        (false, true) => when(training.embeddings, w * d.hidden),
    };
    let logits_grad = grad || training.final_norm || training.head;
    // A BERT-style encoder: the embeddings' LayerNorm statistics and the int64 input ids per token;
    // the position and token-type id buffers (one row of int64 each, as long as the longest input)
    // do not grow with b. Then the head its config names:
    // - the pooler (BertModel): its input, a view of the last hidden state whose whole storage it
    //   keeps, per token, and its tanh output per sequence;
    // - a classifier on it (BertForSequenceClassification): also, per sequence, its dropout mask and
    //   input, the loss's float32 log-probabilities and the int64 label;
    // - the MLM head (BertForMaskedLM): no pooler; per token the transform's dense input (the last
    //   hidden state), its activation's input, its LayerNorm's input and statistics and the
    //   decoder's input (the log-probabilities are the language-model loss below).
    let recorded = grad || training.head;
    let (encoder_per_token, encoder_fixed) = match d.encoder {
        Some(positions) => {
            let (per_token, per_sequence) = match d.encoder_head {
                BertHead::Pooler => (head_input, when(recorded, w * d.hidden)),
                BertHead::SequenceClassification { labels } => (
                    head_input,
                    when(recorded, 2 * w * d.hidden + mask(d.hidden) + 4 * labels + 8),
                ),
                BertHead::MaskedLm => (2 * head_input + when(recorded, 2 * w * d.hidden + 8), 0),
            };
            (
                when(training.embeddings, 8) + when(training.word_embeddings, 8) + per_token,
                b.saturating_mul(per_sequence)
                    .saturating_add(when(training.embeddings, positions.saturating_mul(16))),
            )
        }
        None => (0, 0),
    };
    let embedding_mask = when(training.embeddings, mask(d.hidden));
    let outside_layers = sb
        .saturating_mul(embedding_mask + final_norm + encoder_per_token)
        .saturating_add(encoder_fixed);
    // The loss upcasts the logits to float32 and keeps the log-probabilities (4 bytes per vocabulary
    // entry per token); the logits themselves are not saved for backward.
    let logits_and_loss = if d.lm_head && logits_grad {
        sb.saturating_mul(d.vocab).saturating_mul(4)
    } else {
        0
    };
    let (active, experts) = d.routed;
    let square = match options.attention {
        AttentionKind::Fused => "fused attention, no s² term".to_string(),
        AttentionKind::Eager if d.dropout => "+ 5·a·s/h for eager attention".to_string(),
        AttentionKind::Eager => "+ 2·a·s/h for eager attention without dropout".to_string(),
    };
    let recompute = match options.checkpointing {
        Checkpointing::None => String::new(),
        Checkpointing::Selective => "; selective recomputation: the s² terms recomputed".into(),
        Checkpointing::Full => {
            "; full recomputation: each layer's input kept (2·s·b·h in 16 bits), one layer recomputed at a time"
                .into()
        }
    };
    let formula = format!(
        "Korthikanti et al. 2022, s·b·h·(34 {square}) bytes per layer at 16-bit activations and 1-byte \
         masks, generalised to this architecture ({} bytes per activation, {} per mask{}{}){recompute}",
        w,
        m,
        if d.gated { ", gated MLP" } else { "" },
        if experts > 1 {
            format!(", {active} of {experts} experts per token")
        } else {
            String::new()
        },
    );
    TransformerActivations {
        layers: d.layers,
        per_layer,
        layers_kept,
        recompute_transient,
        outside_layers,
        logits_and_loss,
        adapters,
        head_params: if d.lm_head {
            d.vocab.saturating_mul(d.hidden)
        } else {
            0
        },
        formula,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architectures::presets;
    use crate::plan::finetune::Finetune;

    fn options(batch: u64, seq: u64) -> FormulaOptions {
        FormulaOptions {
            tokens: Tokens { batch, seq },
            activation_bytes: 2,
            mask_bytes: 1,
            attention: AttentionKind::Eager,
            checkpointing: Checkpointing::None,
            tensor_parallel: 1,
        }
    }

    /// GPT-2 is the paper's case: a 4h GeLU MLP, K and V as wide as Q, dropout everywhere.
    #[test]
    fn gpt2_layers_follow_the_papers_34_plus_5as_over_h() {
        let mut arch = presets::find("gpt2-xl").unwrap().architecture();
        let (s, b, h, a) = (1024u64, 4u64, 1600u64, 25u64);
        // transformers' gelu_new keeps three more 4h-wide tensors (2 bytes each) than a fused GeLU.
        let gelu_new = activations(&arch, &options(b, s));
        if let Architecture::Gpt2(c) = &mut arch {
            c.activation_function = crate::architectures::Activation::Gelu;
        }
        let act = activations(&arch, &options(b, s));
        assert_eq!(act.per_layer, s * b * h * 34 + 5 * a * s * s * b);
        assert_eq!(gelu_new.per_layer - act.per_layer, s * b * 3 * 2 * 4 * h);
        let fused = activations(
            &arch,
            &FormulaOptions {
                attention: AttentionKind::Fused,
                ..options(b, s)
            },
        );
        assert_eq!(fused.per_layer, s * b * h * 34);
        let full = activations(
            &arch,
            &FormulaOptions {
                checkpointing: Checkpointing::Full,
                ..options(b, s)
            },
        );
        assert_eq!(full.layers_kept, 2 * s * b * h * 48);
        assert_eq!(full.recompute_transient, act.per_layer);
        let tp = activations(
            &arch,
            &FormulaOptions {
                tensor_parallel: 8,
                ..options(b, s)
            },
        );
        assert_eq!(tp.per_layer, act.per_layer.div_ceil(8));
    }

    /// The tiny GPT-2 sample's config against PyTorch's saved bytes of a real training forward
    /// (models/measure_training.py hf:models/hf/tiny_gpt2 --seq-len 64, float32 on CPU, eager/math
    /// attention as sdpa takes with dropout, loss inside): 1,859,076 bytes at batch 2, 7,434,756 at
    /// batch 8. PyTorch's CPU dropout keeps float32 masks, so the formula is taken with 4-byte masks.
    #[test]
    fn tiny_gpt2_is_within_10_percent_of_a_real_cpu_run() {
        let config = include_str!("../../../models/hf/tiny_gpt2/config.json");
        assert_within_10_percent_in_float32(config, &[(2, 1_859_076), (8, 7_434_756)]);
    }

    /// The formula at 64 tokens, in float32 with 4-byte masks as PyTorch keeps them on a CPU, against
    /// the saved bytes of real runs of the same config at each batch.
    fn assert_within_10_percent_in_float32(config: &str, runs: &[(u64, u64)]) {
        assert_finetune_within_10_percent(config, AttentionKind::Eager, &Finetune::default(), runs);
    }

    /// As above, for a fine-tune of the config (the formula through [`Training::of`] on the config's
    /// module tree) under `attention` (sdpa on a CPU: the flash kernel without dropout, the math
    /// kernel, eager here, with it).
    fn assert_finetune_within_10_percent(
        config: &str,
        attention: AttentionKind,
        finetune: &Finetune,
        runs: &[(u64, u64)],
    ) {
        let arch = Architecture::from_json(config).unwrap();
        let selected = finetune.select(&arch.module_tree()).unwrap();
        let training = if finetune.is_active() {
            Training::of(&selected, arch.layers())
        } else {
            Training::full(arch.layers())
        };
        for &(batch, saved) in runs {
            let act = activations_trained(
                &arch,
                &FormulaOptions {
                    activation_bytes: 4,
                    mask_bytes: 4,
                    attention,
                    ..options(batch, 64)
                },
                &training,
            );
            let error = (act.held() as f64 - saved as f64).abs() / saved as f64;
            assert!(
                error < 0.10,
                "batch {batch}: {} against {saved} ({:+.1}%)",
                act.held(),
                100.0 * (act.held() as f64 / saved as f64 - 1.0)
            );
        }
    }

    fn freeze(expression: &str) -> Finetune {
        Finetune {
            freeze: Some(regex::Regex::new(expression).unwrap()),
            ..Default::default()
        }
    }

    fn lora(rank: u64) -> Finetune {
        Finetune {
            lora_rank: Some(rank),
            ..Default::default()
        }
    }

    /// Fine-tunes of the tiny Llama against PyTorch's saved bytes of real runs (models/
    /// measure_training.py hf:models/hf/tiny_llama --seq-len 64 --batch 2|8 with --lora-rank 8, or
    /// --freeze EXPR; float32 on CPU, sdpa's flash kernel): LoRA rank 8 on q, k, v, o keeps 470,020
    /// and 1,867,780 bytes (full training: 651,780 and 2,594,820) — the norms' normalized tensors,
    /// the MLP's and head's inputs and the first norm's input go, the adapters' inputs and rank-wide
    /// intermediates come; frozen embeddings 633,860 and 2,523,140; frozen embeddings and layer 0
    /// 352,260 and 1,396,740 (nothing of layer 0 kept, layer 1's first norm keeps only the tensor
    /// its weight's gradient needs).
    #[test]
    fn tiny_llama_fine_tunes_are_within_10_percent_of_real_cpu_runs() {
        let config = include_str!("../../../models/hf/tiny_llama/config.json");
        let fused = AttentionKind::Fused;
        assert_finetune_within_10_percent(config, fused, &lora(8), &[(2, 470_020), (8, 1_867_780)]);
        assert_finetune_within_10_percent(
            config,
            fused,
            &freeze(r"^model\.embed_tokens\."),
            &[(2, 633_860), (8, 2_523_140)],
        );
        assert_finetune_within_10_percent(
            config,
            fused,
            &freeze(r"^model\.(embed_tokens|layers\.0)\."),
            &[(2, 352_260), (8, 1_396_740)],
        );
    }

    /// The same for the tiny GPT-2 (eager attention with dropout, 4-byte CPU masks): LoRA rank 8 on
    /// c_attn and attn.c_proj 1,659,908 and 6,639,620 bytes (full: 1,859,076 and 7,434,756); frozen
    /// wte and wpe (the head tied to wte is frozen with it) 1,824,772 and 7,299,076; frozen
    /// embeddings and block 0, 937,988 and 3,751,940.
    #[test]
    fn tiny_gpt2_fine_tunes_are_within_10_percent_of_real_cpu_runs() {
        let config = include_str!("../../../models/hf/tiny_gpt2/config.json");
        let eager = AttentionKind::Eager;
        assert_finetune_within_10_percent(
            config,
            eager,
            &lora(8),
            &[(2, 1_659_908), (8, 6_639_620)],
        );
        assert_finetune_within_10_percent(
            config,
            eager,
            &freeze(r"^transformer\.(wte|wpe)\."),
            &[(2, 1_824_772), (8, 7_299_076)],
        );
        assert_finetune_within_10_percent(
            config,
            eager,
            &freeze(r"^transformer\.(wte|wpe|h\.0)\."),
            &[(2, 937_988), (8, 3_751_940)],
        );
    }

    /// Freezing the bottom half of a 32-layer model keeps nothing below layer 16; all trained is
    /// the full-training formula.
    #[test]
    fn frozen_bottom_layers_keep_nothing() {
        let arch = presets::find("Llama-3.1-8B").unwrap().architecture();
        let o = FormulaOptions {
            attention: AttentionKind::Fused,
            ..options(1, 4096)
        };
        let full = activations(&arch, &o);
        let all = Finetune {
            train: Some(regex::Regex::new(".").unwrap()),
            ..Default::default()
        };
        let trained = Training::of(&all.select(&arch.module_tree()).unwrap(), 32);
        assert_eq!(activations_trained(&arch, &o, &trained), full);
        let top = Finetune {
            train: Some(regex::Regex::new(r"^model\.layers\.(1[6-9]|2\d|3[01])\.").unwrap()),
            ..Default::default()
        };
        let half = Training::of(&top.select(&arch.module_tree()).unwrap(), 32);
        let act = activations_trained(&arch, &o, &half);
        // Layer 16 keeps its first norm's normalized tensor, not its float32 input; the others
        // what full training keeps; the final norm its float32 input, not the normalized tensor
        // (frozen), nor the head's input.
        let (sb, h) = (4096u64, 4096u64);
        assert_eq!(act.layers_kept, 16 * full.per_layer - sb * 4 * h);
        assert_eq!(
            act.outside_layers,
            full.outside_layers - sb * (2 * h + 2 * h)
        );
        assert_eq!(act.logits_and_loss, full.logits_and_loss);
    }

    /// The tiny BERT sample's config under each head `architectures` can name, against PyTorch's
    /// saved bytes of a real training forward (models/measure_training.py hf:models/hf/tiny_bert
    /// --seq-len 64 [--class C], float32 on CPU, sdpa taking the math kernel with dropout).
    fn tiny_bert_as(class: &str) -> String {
        include_str!("../../../models/hf/tiny_bert/config.json")
            .replace("\"BertForMaskedLM\"", &format!("\"{class}\""))
    }

    /// `BertModel` with its pooler (--class BertModel): 1,301,248 bytes at batch 2, 5,203,456 at
    /// batch 8 (the run leaves the model's buffers out; the formula, which counts the 512-byte
    /// position_ids buffer the embedding saves, gives 1,301,760 and 5,203,968). Before the encoder's terms (LayerNorm statistics, ids, pooler) the formula gave
    /// 1,277,952 and 5,111,808 with 4-byte masks (-1.8%), 1,019,904 and 4,079,616 with the CLI's
    /// 1-byte masks (-21.7%): most of that gap is CPU's float32 dropout masks.
    #[test]
    fn tiny_bert_is_within_10_percent_of_a_real_cpu_run() {
        assert_within_10_percent_in_float32(
            &tiny_bert_as("BertModel"),
            &[(2, 1_301_248), (8, 5_203_456)],
        );
    }

    /// The sample's own class, `BertForMaskedLM`: no pooler, the MLM head (transform dense, GELU,
    /// LayerNorm, decoder tied to the word embeddings) and the loss's log-probabilities over the
    /// vocabulary: 1,383,940 bytes at batch 2, 5,534,212 at batch 8 (buffers left out; with the pooler's terms in place
    /// of the head's, the formula was 1,301,760 at batch 2, -6%).
    #[test]
    fn tiny_bert_masked_lm_models_its_head_not_a_pooler() {
        assert_within_10_percent_in_float32(
            &tiny_bert_as("BertForMaskedLM"),
            &[(2, 1_383_940), (8, 5_534_212)],
        );
        let arch = Architecture::from_json(&tiny_bert_as("BertForMaskedLM")).unwrap();
        let o = FormulaOptions {
            activation_bytes: 4,
            mask_bytes: 4,
            ..options(2, 64)
        };
        let act = activations(&arch, &o);
        let pooled = activations(
            &Architecture::from_json(&tiny_bert_as("BertModel")).unwrap(),
            &o,
        );
        // 128 tokens: the head's four hidden-wide inputs and a LayerNorm's statistics in place of
        // the pooler's input, and 4 bytes per vocabulary entry; no per-sequence tanh output.
        assert_eq!(act.logits_and_loss, 128 * 64 * 4);
        assert_eq!(
            act.outside_layers + 2 * 4 * 32,
            pooled.outside_layers + 128 * (3 * 4 * 32 + 8)
        );
        assert_eq!(act.held(), 1_384_448);
    }

    /// `BertForSequenceClassification` (2 labels): the pooler, then per sequence the dropout mask
    /// and classifier input, the log-probabilities and the label: 1,302,308 bytes at batch 2,
    /// 5,206,148 at batch 8.
    #[test]
    fn tiny_bert_sequence_classification_adds_its_classifier() {
        assert_within_10_percent_in_float32(
            &tiny_bert_as("BertForSequenceClassification"),
            &[(2, 1_302_308), (8, 5_206_148)],
        );
        let arch = Architecture::from_json(&tiny_bert_as("BertForSequenceClassification")).unwrap();
        let act = activations(
            &arch,
            &FormulaOptions {
                activation_bytes: 4,
                mask_bytes: 4,
                ..options(2, 64)
            },
        );
        // Per sequence: the classifier input and float32 dropout mask, 2 log-probabilities, a label.
        assert_eq!(act.held(), 1_301_760 + 2 * (2 * 4 * 32 + 4 * 2 + 8));
    }

    #[test]
    fn llama_has_no_dropout_and_a_gated_mlp() {
        let arch = presets::find("Llama-3.1-8B").unwrap().architecture();
        let act = activations(
            &arch,
            &FormulaOptions {
                attention: AttentionKind::Fused,
                ..options(1, 4096)
            },
        );
        let (sb, h, kv, i) = (4096u64, 4096u64, 1024u64, 14336u64);
        // QKV input, Q and the heads' output, K and V, the merged output and the log-sum-exp of 32
        // heads, the gated MLP, two RMSNorms (float32 input + normalized).
        assert_eq!(
            act.per_layer,
            sb * (2 * h
                + 2 * 2 * h
                + 2 * 2 * kv
                + 2 * h
                + 4 * 32
                + 2 * h
                + 4 * 2 * i
                + 2 * (4 * h + 2 * h))
        );
        assert_eq!(act.logits_and_loss, sb * 128_256 * 4);
    }
}
