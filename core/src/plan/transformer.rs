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
//! Full recomputation keeps each layer's input (`w·h·s·b`) and, during backward, one layer's activations
//! at a time; selective recomputation drops the `s²` terms. Tensor parallelism with sequence
//! parallelism divides everything per layer by its size. Outside the layers: the embeddings' dropout
//! mask, the final norm's input, and for a language-model head the float32 log-probabilities the
//! cross-entropy keeps (4 bytes per vocabulary entry per token; the logits are not saved).

use crate::architectures::{Architecture, Tokens};

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
            // hidden and attention-probabilities dropout 0.1; BertModel has no language-model head.
            dropout: true,
            lm_head: false,
            vocab: c.vocab_size,
            activation_extra: 0,
            encoder: Some(c.max_position_embeddings),
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
            }
        }
    }
}

/// The activations `arch` keeps for backward on `options.tokens`.
/// Whether the architecture drops out (then PyTorch's CPU sdpa takes its math kernel, eager attention).
pub fn has_dropout(arch: &Architecture) -> bool {
    dims(arch).dropout
}

pub fn activations(arch: &Architecture, options: &FormulaOptions) -> TransformerActivations {
    let d = dims(arch);
    let (s, b) = (options.tokens.seq, options.tokens.batch);
    let (w, m) = (options.activation_bytes, options.mask_bytes);
    let sb = s.saturating_mul(b);
    let mask = |width: u64| if d.dropout { m * width } else { 0 };
    let attention_linear = w * d.hidden + 2 * w * d.q_width + 2 * w * d.kv_width + mask(d.hidden);
    let attention_square = match options.attention {
        AttentionKind::Fused => 0,
        AttentionKind::Eager => w + if d.dropout { m + w } else { 0 },
    };
    let (active, experts) = d.routed;
    let mlp = if d.gated {
        // A mixture of experts also keeps the router's float32 probabilities, and each routed
        // token's expert output and routing weight, for the weighted sum.
        active * (w * d.hidden + 4 * w * d.ffn)
            + if experts > 1 {
                4 * experts + active * (w * d.hidden + 4)
            } else {
                0
            }
    } else {
        w * d.hidden + (2 + d.activation_extra) * w * d.ffn + mask(d.hidden)
    };
    // A LayerNorm keeps its input. transformers' RMSNorm (the gated, Llama-family models) computes in
    // float32 and keeps that input copy (4 bytes) and the normalized tensor before the weight (w).
    // BERT's LayerNorms also show their float32 mean and reciprocal deviation (8 bytes per token).
    let norms = if d.gated {
        2 * (4 * d.hidden + w * d.hidden)
    } else {
        2 * w * d.hidden + if d.encoder.is_some() { 2 * 8 } else { 0 }
    };
    // Llama-family attention through sdpa: the heads' output is kept by the kernel and, merged back
    // (a copy), by the output projection; fused kernels keep a float32 log-sum-exp per head.
    let attention_extra = match (d.gated, options.attention) {
        (true, AttentionKind::Fused) => w * d.q_width + 4 * d.heads,
        (true, AttentionKind::Eager) => w * d.q_width,
        (false, _) => 0,
    };
    let linear_part = sb.saturating_mul(attention_linear + attention_extra + mlp + norms);
    let square_part = d
        .heads
        .saturating_mul(s)
        .saturating_mul(sb)
        .saturating_mul(attention_square);
    let tp = options.tensor_parallel.max(1);
    let per_layer = linear_part.saturating_add(square_part).div_ceil(tp);
    let layer_input = sb.saturating_mul(w * d.hidden).div_ceil(tp);
    let (layers_kept, recompute_transient) = match options.checkpointing {
        Checkpointing::None => (per_layer.saturating_mul(d.layers), 0),
        Checkpointing::Selective => (linear_part.div_ceil(tp).saturating_mul(d.layers), 0),
        Checkpointing::Full => (layer_input.saturating_mul(d.layers), per_layer),
    };
    // The final norm (as the layers' norms: RMSNorm keeps its float32 input and normalized tensor,
    // and the head keeps its output).
    let final_norm = match (d.gated, d.lm_head) {
        (true, _) => 4 * d.hidden + 2 * w * d.hidden,
        (false, true) => 2 * w * d.hidden,
        (false, false) => w * d.hidden,
    };
    // BertModel: the embeddings' LayerNorm statistics and the int64 input ids per token, the pooler's
    // input (a view of the last hidden state, whose whole storage it keeps) per token and its tanh
    // output per sequence; the position and token-type id buffers (one row of int64 each, as long as
    // the longest input) do not grow with b.
    let (encoder_per_token, encoder_fixed) = match d.encoder {
        Some(positions) => (
            8 + 8 + w * d.hidden,
            b.saturating_mul(w * d.hidden)
                .saturating_add(positions.saturating_mul(16)),
        ),
        None => (0, 0),
    };
    let outside_layers = sb
        .saturating_mul(mask(d.hidden) + final_norm + encoder_per_token)
        .saturating_add(encoder_fixed);
    // The loss upcasts the logits to float32 and keeps the log-probabilities (4 bytes per vocabulary
    // entry per token); the logits themselves are not saved for backward.
    let logits_and_loss = if d.lm_head {
        sb.saturating_mul(d.vocab).saturating_mul(4)
    } else {
        0
    };
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
        adapters: 0,
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
        let arch = Architecture::from_json(config).unwrap();
        for &(batch, saved) in runs {
            let act = activations(
                &arch,
                &FormulaOptions {
                    activation_bytes: 4,
                    mask_bytes: 4,
                    ..options(batch, 64)
                },
            );
            let error = (act.held() as f64 - saved as f64).abs() / saved as f64;
            assert!(
                error < 0.10,
                "batch {batch}: {} against {saved}",
                act.held()
            );
        }
    }

    /// The tiny BERT sample (`BertModel` with its pooler, as models/measure_training.py builds it
    /// from models/hf/tiny_bert) against PyTorch's saved bytes of a real training forward (--seq-len
    /// 64, float32 on CPU, sdpa taking the math kernel with dropout): 1,301,248 bytes at batch 2,
    /// 5,203,456 at batch 8 (the script leaves out the model's buffers; with the 512-byte position_ids
    /// buffer it said 1,301,760 and 5,203,968, which the formula gives exactly). Before the encoder's terms (LayerNorm statistics, ids, pooler) the
    /// formula gave 1,277,952 and 5,111,808 with 4-byte masks (-1.8%), 1,019,904 and 4,079,616 with
    /// the CLI's 1-byte masks (-21.7%): most of that gap is CPU's float32 dropout masks.
    #[test]
    fn tiny_bert_is_within_10_percent_of_a_real_cpu_run() {
        let config = include_str!("../../../models/hf/tiny_bert/config.json");
        assert_within_10_percent_in_float32(config, &[(2, 1_301_248), (8, 5_203_456)]);
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
