//! The Llama-architecture decoders as `transformers` builds them (`LlamaForCausalLM`,
//! `MistralForCausalLM`, `Qwen2ForCausalLM`, `MixtralForCausalLM`): a token embedding, pre-norm decoder
//! layers (RMSNorm; attention with rotary positions and grouped key/value heads; a gated MLP, or for
//! Mixtral a router and experts), a final RMSNorm, one rotary embedding shared by every layer, and the
//! language model head (tied to the embedding when `tie_word_embeddings`).
//!
//! The rotary embedding keeps its inverse frequencies in two float32 buffers (`inv_freq` and
//! `original_inv_freq`, not in the state dict, but in `buffers()`). It returns the (cos, sin) tables, one
//! row per position, shared across the batch. Mixtral's router returns its logits, and each token's
//! chosen experts' weights (float32) and indices.
//!
//! Mixtral's experts are one module holding every expert's weights as 3-D tensors (`gate_up_proj`,
//! `down_proj`); transformers' default `grouped_mm` implementation runs the experts' activation once,
//! over every (token, chosen expert) pair, so its output has batch × seq × experts-per-token rows.

use super::Tokens;
use super::config::{LlamaConfig, LlamaFamily};
use super::tree::{Cx, MODULE_LIST, attention_mult_adds, buffer, join, module};
use crate::dtype::DType;
use crate::summary::{ModuleNode, TensorValue};

/// The classes of one family, fully qualified.
pub struct Classes {
    pub causal_lm: &'static str,
    pub model: &'static str,
    pub decoder_layer: &'static str,
    pub attention: &'static str,
    pub mlp: &'static str,
    pub rms_norm: &'static str,
    pub rotary_embedding: &'static str,
    /// The mixture of experts' classes (Mixtral's; the other families have none).
    pub sparse_moe_block: &'static str,
    pub router: &'static str,
    pub experts: &'static str,
}

/// `transformers.models.<module>.modeling_<module>.<Prefix><Class>`.
macro_rules! class {
    ($module:literal, $prefix:literal, $class:literal) => {
        concat!(
            "transformers.models.",
            $module,
            ".modeling_",
            $module,
            ".",
            $prefix,
            $class
        )
    };
}

macro_rules! classes {
    ($module:literal, $prefix:literal) => {
        Classes {
            causal_lm: class!($module, $prefix, "ForCausalLM"),
            model: class!($module, $prefix, "Model"),
            decoder_layer: class!($module, $prefix, "DecoderLayer"),
            attention: class!($module, $prefix, "Attention"),
            mlp: class!($module, $prefix, "MLP"),
            rms_norm: class!($module, $prefix, "RMSNorm"),
            rotary_embedding: class!($module, $prefix, "RotaryEmbedding"),
            sparse_moe_block: class!($module, $prefix, "SparseMoeBlock"),
            router: class!($module, $prefix, "TopKRouter"),
            experts: class!($module, $prefix, "Experts"),
        }
    };
}

static LLAMA: Classes = classes!("llama", "Llama");
static MISTRAL: Classes = classes!("mistral", "Mistral");
static QWEN2: Classes = classes!("qwen2", "Qwen2");
static MIXTRAL: Classes = classes!("mixtral", "Mixtral");

pub fn classes(family: LlamaFamily) -> &'static Classes {
    match family {
        LlamaFamily::Llama => &LLAMA,
        LlamaFamily::Mistral => &MISTRAL,
        LlamaFamily::Qwen2 => &QWEN2,
        LlamaFamily::Mixtral => &MIXTRAL,
    }
}

/// The tied head's weight is the token embedding's.
pub const TIED_HEAD: (&str, &str) = ("lm_head.weight", "model.embed_tokens.weight");

pub(super) fn tree(c: &LlamaConfig, t: Option<Tokens>) -> ModuleNode {
    let cx = Cx { t, dtype: c.dtype };
    let k = classes(c.model_type);
    let h = c.hidden_size;
    let hidden = cx.shape(|t| vec![t.batch, t.seq, h]);
    let tokens = cx.shape(|t| vec![t.batch, t.seq]);
    let layers = (0..c.num_hidden_layers)
        .map(|i| decoder_layer(c, cx, &join("model.layers", i)))
        .collect();
    let half = c.head_dim() / 2;
    let mut rotary = module("model.rotary_emb", k.rotary_embedding, vec![]);
    rotary = buffer(rotary, "inv_freq", &[half], DType::Float32);
    rotary = buffer(rotary, "original_inv_freq", &[half], DType::Float32);
    // (cos, sin), one row per position.
    let table = cx.shape(|t| vec![1, t.seq, c.head_dim()]);
    let rotary = cx.called_many(
        rotary,
        table.map(|s| vec![cx.value(s.clone()), cx.value(s)]),
        None,
    );
    let model = cx.called(
        module(
            "model",
            k.model,
            vec![
                cx.embedding("model.embed_tokens", c.vocab_size, h, tokens.as_deref()),
                module("model.layers", MODULE_LIST, layers),
                rms_norm(cx, "model.norm", k, h, hidden.clone()),
                rotary,
            ],
        ),
        hidden,
        None,
    );
    let mut head = cx.linear("lm_head", h, c.vocab_size, false, tokens.as_deref());
    if c.tie_word_embeddings {
        head.parameters[0].tied_to = Some(TIED_HEAD.1.to_string());
    }
    let logits = cx.shape(|t| vec![t.batch, t.seq, c.vocab_size]);
    cx.called(module("", k.causal_lm, vec![model, head]), logits, None)
}

fn rms_norm(cx: Cx, path: &str, k: &Classes, dim: u64, out: Option<Vec<u64>>) -> ModuleNode {
    cx.called(
        cx.param(module(path, k.rms_norm, vec![]), "weight", &[dim]),
        out,
        None,
    )
}

fn decoder_layer(c: &LlamaConfig, cx: Cx, path: &str) -> ModuleNode {
    let k = classes(c.model_type);
    let h = c.hidden_size;
    let hidden = cx.shape(|t| vec![t.batch, t.seq, h]);
    let lead = cx.shape(|t| vec![t.batch, t.seq]);
    let lead = lead.as_deref();
    let (heads, kv, hd) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim());
    let attn_path = join(path, "self_attn");
    let attention = cx.called(
        module(
            &attn_path,
            k.attention,
            vec![
                cx.linear(
                    &join(&attn_path, "q_proj"),
                    h,
                    heads * hd,
                    c.qkv_bias(),
                    lead,
                ),
                cx.linear(&join(&attn_path, "k_proj"), h, kv * hd, c.qkv_bias(), lead),
                cx.linear(&join(&attn_path, "v_proj"), h, kv * hd, c.qkv_bias(), lead),
                cx.linear(&join(&attn_path, "o_proj"), heads * hd, h, c.o_bias(), lead),
            ],
        ),
        hidden.clone(),
        cx.t.map(|t| attention_mult_adds(t, heads, hd)),
    );
    let mlp_path = join(path, "mlp");
    let mlp = match c.experts() {
        None => dense_mlp(c, cx, &mlp_path),
        Some((experts, per_token)) => sparse_moe(c, cx, &mlp_path, experts, per_token),
    };
    cx.called(
        module(
            path,
            k.decoder_layer,
            vec![
                attention,
                mlp,
                rms_norm(cx, &join(path, "input_layernorm"), k, h, hidden.clone()),
                rms_norm(
                    cx,
                    &join(path, "post_attention_layernorm"),
                    k,
                    h,
                    hidden.clone(),
                ),
            ],
        ),
        hidden,
        None,
    )
}

/// `down_proj(act_fn(gate_proj(x)) * up_proj(x))`.
fn dense_mlp(c: &LlamaConfig, cx: Cx, path: &str) -> ModuleNode {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let lead = cx.shape(|t| vec![t.batch, t.seq]);
    let lead = lead.as_deref();
    let bias = c.mlp_bias();
    cx.called(
        module(
            path,
            classes(c.model_type).mlp,
            vec![
                cx.linear(&join(path, "gate_proj"), h, i, bias, lead),
                cx.linear(&join(path, "up_proj"), h, i, bias, lead),
                cx.linear(&join(path, "down_proj"), i, h, bias, lead),
                cx.leaf(
                    &join(path, "act_fn"),
                    c.hidden_act.class(),
                    cx.shape(|t| vec![t.batch, t.seq, i]),
                ),
            ],
        ),
        cx.shape(|t| vec![t.batch, t.seq, h]),
        None,
    )
}

/// The router scores every token against every expert; each token then goes through its top
/// `per_token` experts: gate and up projections, the activation, the down projection.
fn sparse_moe(c: &LlamaConfig, cx: Cx, path: &str, experts: u64, per_token: u64) -> ModuleNode {
    let k = classes(c.model_type);
    let (h, i) = (c.hidden_size, c.intermediate_size);
    // The block flattens batch and sequence into one token dimension.
    let tokens = cx.t.map(|t| t.batch.saturating_mul(t.seq));
    let routed = tokens.map(|n| n.saturating_mul(per_token));
    // The router's logits (in the model's dtype), then in float32 each token's top experts' weights,
    // and their indices.
    let router = cx.called_many(
        cx.param(
            module(&join(path, "gate"), k.router, vec![]),
            "weight",
            &[experts, h],
        ),
        tokens.map(|n| {
            vec![
                cx.value(vec![n, experts]),
                TensorValue {
                    shape: vec![n, per_token],
                    dtype: DType::Float32,
                },
                TensorValue {
                    shape: vec![n, per_token],
                    dtype: DType::Int64,
                },
            ]
        }),
        tokens.map(|n| n.saturating_mul(experts).saturating_mul(h)),
    );
    let experts_path = join(path, "experts");
    let mut expert_block = module(
        &experts_path,
        k.experts,
        vec![cx.leaf(
            &join(&experts_path, "act_fn"),
            c.hidden_act.class(),
            routed.map(|n| vec![n, i]),
        )],
    );
    expert_block = cx.param(expert_block, "gate_up_proj", &[experts, 2 * i, h]);
    expert_block = cx.param(expert_block, "down_proj", &[experts, h, i]);
    // Every routed token meets one expert's gate_up (2i × h) and down (h × i) matrices.
    let expert_block = cx.called(
        expert_block,
        tokens.map(|n| vec![n, h]),
        routed.map(|n| n.saturating_mul(3 * i).saturating_mul(h)),
    );
    cx.called(
        module(path, k.sparse_moe_block, vec![router, expert_block]),
        cx.shape(|t| vec![t.batch, t.seq, h]),
        None,
    )
}
