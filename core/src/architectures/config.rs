//! Typed configs of the transformer families, with the fields (and names) of Hugging Face `config.json`
//! files and the defaults `transformers`' config classes give a missing key. Only what shapes the
//! module tree or its forward pass is kept; the rest of a config (dropout rates, token ids …) is ignored.

use crate::dtype::DType;
use serde_json::{Map, Value};
use std::fmt;

/// A config that cannot describe a model: what is wrong, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn error(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// Sizes above this are refused: every dimension must fit libtorch's int64 sizes with room for products,
/// and no published model comes near it.
const MAX_DIMENSION: u64 = 1 << 31;
/// Layers (and experts) above this are refused: the module tree is built node by node.
const MAX_LAYERS: u64 = 4096;

/// An activation named by a config's `hidden_act` / `activation_function`, as `transformers.ACT2FN`
/// maps it to a module class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: exact (erf) GELU, `GELUActivation`.
    Gelu,
    /// `gelu_new`: GPT-2's tanh approximation, `NewGELUActivation`.
    GeluNew,
    /// `gelu_pytorch_tanh`: the tanh approximation through `torch.nn.functional.gelu`, `GELUTanh`.
    GeluPytorchTanh,
    /// `relu`: `torch.nn.ReLU`.
    Relu,
    /// `silu`: `SiLUActivation`.
    Silu,
    /// `swish`: `torch.nn.SiLU`.
    Swish,
}

impl Activation {
    pub const ALL: [Activation; 6] = [
        Activation::Gelu,
        Activation::GeluNew,
        Activation::GeluPytorchTanh,
        Activation::Relu,
        Activation::Silu,
        Activation::Swish,
    ];

    /// The name configs use.
    pub fn hf_name(self) -> &'static str {
        match self {
            Activation::Gelu => "gelu",
            Activation::GeluNew => "gelu_new",
            Activation::GeluPytorchTanh => "gelu_pytorch_tanh",
            Activation::Relu => "relu",
            Activation::Silu => "silu",
            Activation::Swish => "swish",
        }
    }

    /// The module class `ACT2FN` instantiates, fully qualified.
    pub fn class(self) -> &'static str {
        match self {
            Activation::Gelu => "transformers.activations.GELUActivation",
            Activation::GeluNew => "transformers.activations.NewGELUActivation",
            Activation::GeluPytorchTanh => "transformers.activations.GELUTanh",
            Activation::Relu => "torch.nn.modules.activation.ReLU",
            Activation::Silu => "transformers.activations.SiLUActivation",
            Activation::Swish => "torch.nn.modules.activation.SiLU",
        }
    }

    fn parse(key: &str, name: &str) -> Result<Activation, ConfigError> {
        Activation::ALL
            .into_iter()
            .find(|a| a.hf_name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Activation::ALL.iter().map(|a| a.hf_name()).collect();
                error(format!(
                    "{key} '{name}' is not supported (supported: {})",
                    known.join(", ")
                ))
            })
    }
}

/// GPT-2 (`GPT2LMHeadModel`).
#[derive(Debug, Clone, PartialEq)]
pub struct Gpt2Config {
    pub vocab_size: u64,
    /// Learned positions: the longest input.
    pub n_positions: u64,
    pub n_embd: u64,
    pub n_layer: u64,
    pub n_head: u64,
    /// The feed-forward width; `None` means 4 × `n_embd`.
    pub n_inner: Option<u64>,
    pub activation_function: Activation,
    pub layer_norm_epsilon: f64,
    /// `lm_head.weight` is `transformer.wte.weight`.
    pub tie_word_embeddings: bool,
    /// The parameters' dtype (`torch_dtype`, or v5's `dtype`): `from_config` builds in it.
    pub dtype: DType,
}

impl Gpt2Config {
    pub fn inner(&self) -> u64 {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    pub fn head_dim(&self) -> u64 {
        self.n_embd / self.n_head
    }
}

/// BERT (`BertModel`: embeddings, encoder and pooler).
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    pub vocab_size: u64,
    pub hidden_size: u64,
    pub num_hidden_layers: u64,
    pub num_attention_heads: u64,
    pub intermediate_size: u64,
    pub hidden_act: Activation,
    /// Learned positions: the longest input.
    pub max_position_embeddings: u64,
    pub type_vocab_size: u64,
    pub layer_norm_eps: f64,
    /// The parameters' dtype (`torch_dtype`, or v5's `dtype`): `from_config` builds in it.
    pub dtype: DType,
    /// The head the config's `architectures` names.
    pub head: BertHead,
}

/// What sits on BERT's encoder, as `architectures` names the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BertHead {
    /// `BertModel` (and any class tchinfo does not build, or no `architectures`): the pooler, a
    /// tanh Linear over the first token.
    Pooler,
    /// `BertForMaskedLM`: no pooler; a dense + activation + LayerNorm transform and a decoder to the
    /// vocabulary, its weight tied to the word embeddings, and the loss.
    MaskedLm,
    /// `BertForSequenceClassification`: the pooler, dropout and a Linear to the labels, and the loss.
    SequenceClassification { labels: u64 },
}

impl BertConfig {
    pub fn head_dim(&self) -> u64 {
        self.hidden_size / self.num_attention_heads
    }
}

/// Which of the Llama-architecture decoders a config is (`model_type`): they share the layout and differ
/// in class names, attention biases and the feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlamaFamily {
    Llama,
    Mistral,
    /// Biases on the query, key and value projections.
    Qwen2,
    /// A sparse mixture of experts in place of the MLP.
    Mixtral,
}

impl LlamaFamily {
    pub fn model_type(self) -> &'static str {
        match self {
            LlamaFamily::Llama => "llama",
            LlamaFamily::Mistral => "mistral",
            LlamaFamily::Qwen2 => "qwen2",
            LlamaFamily::Mixtral => "mixtral",
        }
    }
}

/// Llama, Mistral, Qwen2 and Mixtral (`<Family>ForCausalLM`): RMSNorm, rotary positions, grouped
/// key/value heads, a gated MLP or a mixture of experts.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    pub model_type: LlamaFamily,
    pub vocab_size: u64,
    pub hidden_size: u64,
    /// The MLP's (or each expert's) width.
    pub intermediate_size: u64,
    pub num_hidden_layers: u64,
    pub num_attention_heads: u64,
    pub num_key_value_heads: u64,
    /// `None`: `hidden_size / num_attention_heads`.
    pub head_dim: Option<u64>,
    /// Not a limit for rotary positions; kept for plans.
    pub max_position_embeddings: u64,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub hidden_act: Activation,
    pub tie_word_embeddings: bool,
    /// Llama: biases on q, k, v and o (Qwen2 always has them on q, k, v).
    pub attention_bias: bool,
    /// Llama: biases in the MLP.
    pub mlp_bias: bool,
    /// Mixtral: experts per layer.
    pub num_local_experts: Option<u64>,
    /// Mixtral: experts each token is routed to.
    pub num_experts_per_tok: Option<u64>,
    /// The parameters' dtype (`torch_dtype`, or v5's `dtype`): `from_config` builds in it.
    pub dtype: DType,
}

impl LlamaConfig {
    pub fn head_dim(&self) -> u64 {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    /// Bias on the query, key and value projections.
    pub fn qkv_bias(&self) -> bool {
        match self.model_type {
            LlamaFamily::Qwen2 => true,
            LlamaFamily::Llama => self.attention_bias,
            LlamaFamily::Mistral | LlamaFamily::Mixtral => false,
        }
    }

    /// Bias on the output projection.
    pub fn o_bias(&self) -> bool {
        self.model_type == LlamaFamily::Llama && self.attention_bias
    }

    pub fn mlp_bias(&self) -> bool {
        self.model_type == LlamaFamily::Llama && self.mlp_bias
    }

    /// (experts, experts per token) for a mixture of experts.
    pub fn experts(&self) -> Option<(u64, u64)> {
        match self.model_type {
            LlamaFamily::Mixtral => Some((
                self.num_local_experts.unwrap_or(8),
                self.num_experts_per_tok.unwrap_or(2),
            )),
            _ => None,
        }
    }
}

/// One architecture, from a config.
#[derive(Debug, Clone, PartialEq)]
pub enum Architecture {
    Gpt2(Gpt2Config),
    Bert(BertConfig),
    Llama(LlamaConfig),
}

impl Architecture {
    /// A Hugging Face `config.json`, told apart by its `model_type`.
    pub fn from_json(text: &str) -> Result<Architecture, ConfigError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| error(format!("not a JSON config: {e}")))?;
        let Value::Object(map) = value else {
            return Err(error("a config is a JSON object"));
        };
        Architecture::from_map(&map)
    }

    pub fn from_map(map: &Map<String, Value>) -> Result<Architecture, ConfigError> {
        let keys = Keys(map);
        let model_type = keys.string("model_type", None)?;
        let arch = match model_type.as_str() {
            "gpt2" => Architecture::Gpt2(gpt2(&keys)?),
            "bert" => Architecture::Bert(bert(&keys)?),
            "llama" => Architecture::Llama(llama(&keys, LlamaFamily::Llama)?),
            "mistral" => Architecture::Llama(llama(&keys, LlamaFamily::Mistral)?),
            "qwen2" => Architecture::Llama(llama(&keys, LlamaFamily::Qwen2)?),
            "mixtral" => Architecture::Llama(llama(&keys, LlamaFamily::Mixtral)?),
            other => {
                return Err(error(format!(
                    "model_type '{other}' is not one tchinfo builds (gpt2, bert, llama, mistral, qwen2, mixtral)"
                )));
            }
        };
        arch.validate()?;
        Ok(arch)
    }

    /// `model_type` as configs write it.
    pub fn model_type(&self) -> &'static str {
        match self {
            Architecture::Gpt2(_) => "gpt2",
            Architecture::Bert(_) => "bert",
            Architecture::Llama(c) => c.model_type.model_type(),
        }
    }

    /// The longest input, when positions are learned (GPT-2, BERT); rotary positions have no such limit.
    pub fn max_positions(&self) -> Option<u64> {
        match self {
            Architecture::Gpt2(c) => Some(c.n_positions),
            Architecture::Bert(c) => Some(c.max_position_embeddings),
            Architecture::Llama(_) => None,
        }
    }

    /// The parameters' (and the hidden states') dtype.
    pub fn dtype(&self) -> DType {
        match self {
            Architecture::Gpt2(c) => c.dtype,
            Architecture::Bert(c) => c.dtype,
            Architecture::Llama(c) => c.dtype,
        }
    }

    pub fn vocab_size(&self) -> u64 {
        match self {
            Architecture::Gpt2(c) => c.vocab_size,
            Architecture::Bert(c) => c.vocab_size,
            Architecture::Llama(c) => c.vocab_size,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let sizes: Vec<(&str, u64)> = match self {
            Architecture::Gpt2(c) => vec![
                ("vocab_size", c.vocab_size),
                ("n_positions", c.n_positions),
                ("n_embd", c.n_embd),
                ("n_head", c.n_head),
                ("n_inner", c.inner()),
            ],
            Architecture::Bert(c) => vec![
                ("vocab_size", c.vocab_size),
                ("hidden_size", c.hidden_size),
                ("num_attention_heads", c.num_attention_heads),
                ("intermediate_size", c.intermediate_size),
                ("max_position_embeddings", c.max_position_embeddings),
                ("type_vocab_size", c.type_vocab_size),
                (
                    "num_labels",
                    match c.head {
                        BertHead::SequenceClassification { labels } => labels,
                        _ => 1,
                    },
                ),
            ],
            Architecture::Llama(c) => vec![
                ("vocab_size", c.vocab_size),
                ("hidden_size", c.hidden_size),
                ("intermediate_size", c.intermediate_size),
                ("num_attention_heads", c.num_attention_heads),
                ("num_key_value_heads", c.num_key_value_heads),
                ("head_dim", c.head_dim.unwrap_or(1)),
            ],
        };
        for (key, v) in sizes {
            if v == 0 || v > MAX_DIMENSION {
                return Err(error(format!(
                    "{key} must be between 1 and {MAX_DIMENSION}, got {v}"
                )));
            }
        }
        let (layers_key, layers) = match self {
            Architecture::Gpt2(c) => ("n_layer", c.n_layer),
            Architecture::Bert(c) => ("num_hidden_layers", c.num_hidden_layers),
            Architecture::Llama(c) => ("num_hidden_layers", c.num_hidden_layers),
        };
        if layers > MAX_LAYERS {
            return Err(error(format!(
                "{layers_key} must be at most {MAX_LAYERS}, got {layers}"
            )));
        }
        let divides = |what: &str, width: u64, heads: u64, heads_key: &str| {
            if width.is_multiple_of(heads) {
                Ok(())
            } else {
                Err(error(format!(
                    "{what} {width} is not a multiple of {heads_key} {heads}"
                )))
            }
        };
        match self {
            Architecture::Gpt2(c) => divides("n_embd", c.n_embd, c.n_head, "n_head"),
            Architecture::Bert(c) => divides(
                "hidden_size",
                c.hidden_size,
                c.num_attention_heads,
                "num_attention_heads",
            ),
            Architecture::Llama(c) => {
                if c.head_dim.is_none() {
                    divides(
                        "hidden_size",
                        c.hidden_size,
                        c.num_attention_heads,
                        "num_attention_heads",
                    )?;
                }
                divides(
                    "num_attention_heads",
                    c.num_attention_heads,
                    c.num_key_value_heads,
                    "num_key_value_heads",
                )?;
                if !c.head_dim().is_multiple_of(2) {
                    return Err(error(format!(
                        "rotary positions need an even head_dim, got {}",
                        c.head_dim()
                    )));
                }
                if let Some((experts, per_token)) = c.experts() {
                    if experts == 0 || experts > MAX_LAYERS {
                        return Err(error(format!(
                            "num_local_experts must be between 1 and {MAX_LAYERS}, got {experts}"
                        )));
                    }
                    if per_token == 0 || per_token > experts {
                        return Err(error(format!(
                            "num_experts_per_tok must be between 1 and num_local_experts ({experts}), got {per_token}"
                        )));
                    }
                }
                Ok(())
            }
        }
    }
}

/// Typed reads of a config's keys, with `transformers`' default for a key that is absent or null.
struct Keys<'a>(&'a Map<String, Value>);

impl Keys<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn size(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        Ok(self.optional_size(key)?.unwrap_or(default))
    }

    fn optional_size(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| error(format!("{key} must be a non-negative integer, got {v}"))),
        }
    }

    fn float(&self, key: &str, default: f64) -> Result<f64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| error(format!("{key} must be a number, got {v}"))),
        }
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| error(format!("{key} must be true or false, got {v}"))),
        }
    }

    fn string(&self, key: &str, default: Option<&str>) -> Result<String, ConfigError> {
        match (self.get(key), default) {
            (Some(Value::String(s)), _) => Ok(s.clone()),
            (Some(v), _) => Err(error(format!("{key} must be a string, got {v}"))),
            (None, Some(d)) => Ok(d.to_string()),
            (None, None) => Err(error(format!("the config has no {key}"))),
        }
    }

    /// `dtype` (transformers 5) or `torch_dtype` (earlier): what `from_config` builds the weights in.
    fn dtype(&self) -> Result<DType, ConfigError> {
        let key = if self.get("dtype").is_some() {
            "dtype"
        } else {
            "torch_dtype"
        };
        match self.string(key, Some("float32"))?.as_str() {
            "float32" => Ok(DType::Float32),
            "bfloat16" => Ok(DType::BFloat16),
            "float16" => Ok(DType::Float16),
            "float64" => Ok(DType::Float64),
            other => Err(error(format!(
                "{key} '{other}' is not supported (float32, bfloat16, float16 or float64)"
            ))),
        }
    }

    fn activation(&self, key: &str, default: &str) -> Result<Activation, ConfigError> {
        Activation::parse(key, &self.string(key, Some(default))?)
    }
}

fn gpt2(k: &Keys) -> Result<Gpt2Config, ConfigError> {
    if k.flag("add_cross_attention", false)? {
        return Err(error(
            "add_cross_attention (GPT-2 as a decoder of an encoder-decoder model) is not supported",
        ));
    }
    Ok(Gpt2Config {
        vocab_size: k.size("vocab_size", 50257)?,
        n_positions: k.size("n_positions", 1024)?,
        n_embd: k.size("n_embd", 768)?,
        n_layer: k.size("n_layer", 12)?,
        n_head: k.size("n_head", 12)?,
        n_inner: k.optional_size("n_inner")?,
        activation_function: k.activation("activation_function", "gelu_new")?,
        layer_norm_epsilon: k.float("layer_norm_epsilon", 1e-5)?,
        tie_word_embeddings: k.flag("tie_word_embeddings", true)?,
        dtype: k.dtype()?,
    })
}

fn bert(k: &Keys) -> Result<BertConfig, ConfigError> {
    let position = k.string("position_embedding_type", Some("absolute"))?;
    if position != "absolute" {
        return Err(error(format!(
            "position_embedding_type '{position}' is not supported (absolute)"
        )));
    }
    Ok(BertConfig {
        vocab_size: k.size("vocab_size", 30522)?,
        hidden_size: k.size("hidden_size", 768)?,
        num_hidden_layers: k.size("num_hidden_layers", 12)?,
        num_attention_heads: k.size("num_attention_heads", 12)?,
        intermediate_size: k.size("intermediate_size", 3072)?,
        hidden_act: k.activation("hidden_act", "gelu")?,
        max_position_embeddings: k.size("max_position_embeddings", 512)?,
        type_vocab_size: k.size("type_vocab_size", 2)?,
        layer_norm_eps: k.float("layer_norm_eps", 1e-12)?,
        dtype: k.dtype()?,
        head: bert_head(k)?,
    })
}

/// The head of the first class `architectures` names; the label count of a classifier from
/// `id2label` (as transformers' `num_labels`), else `num_labels`, else 2.
fn bert_head(k: &Keys) -> Result<BertHead, ConfigError> {
    let named = k
        .get("architectures")
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .and_then(|v| v.as_str());
    Ok(match named {
        Some("BertForMaskedLM") => BertHead::MaskedLm,
        Some("BertForSequenceClassification") => {
            let labels = match k.get("id2label").and_then(|v| v.as_object()) {
                Some(m) if !m.is_empty() => m.len() as u64,
                _ => k.size("num_labels", 2)?,
            };
            BertHead::SequenceClassification { labels }
        }
        _ => BertHead::Pooler,
    })
}

/// Each family's config class has its own defaults.
struct LlamaDefaults {
    vocab_size: u64,
    intermediate_size: u64,
    num_key_value_heads: Option<u64>,
    max_position_embeddings: u64,
    rms_norm_eps: f64,
    rope_theta: f64,
}

fn llama(k: &Keys, family: LlamaFamily) -> Result<LlamaConfig, ConfigError> {
    let d = match family {
        LlamaFamily::Llama => LlamaDefaults {
            vocab_size: 32000,
            intermediate_size: 11008,
            num_key_value_heads: None,
            max_position_embeddings: 2048,
            rms_norm_eps: 1e-6,
            rope_theta: 10000.0,
        },
        LlamaFamily::Mistral => LlamaDefaults {
            vocab_size: 32000,
            intermediate_size: 14336,
            num_key_value_heads: Some(8),
            max_position_embeddings: 4096 * 32,
            rms_norm_eps: 1e-6,
            rope_theta: 10000.0,
        },
        LlamaFamily::Qwen2 => LlamaDefaults {
            vocab_size: 151936,
            intermediate_size: 22016,
            num_key_value_heads: Some(32),
            max_position_embeddings: 32768,
            rms_norm_eps: 1e-6,
            rope_theta: 10000.0,
        },
        LlamaFamily::Mixtral => LlamaDefaults {
            vocab_size: 32000,
            intermediate_size: 14336,
            num_key_value_heads: Some(8),
            max_position_embeddings: 4096 * 32,
            rms_norm_eps: 1e-5,
            rope_theta: 1e6,
        },
    };
    let num_attention_heads = k.size("num_attention_heads", 32)?;
    // transformers reads the rotary base from rope_parameters when a config has it (v5), else rope_theta.
    let rope_theta = match k.get("rope_parameters").and_then(|p| p.get("rope_theta")) {
        Some(v) => v.as_f64().ok_or_else(|| {
            error(format!(
                "rope_parameters.rope_theta must be a number, got {v}"
            ))
        })?,
        None => k.float("rope_theta", d.rope_theta)?,
    };
    let experts = family == LlamaFamily::Mixtral;
    Ok(LlamaConfig {
        model_type: family,
        vocab_size: k.size("vocab_size", d.vocab_size)?,
        hidden_size: k.size("hidden_size", 4096)?,
        intermediate_size: k.size("intermediate_size", d.intermediate_size)?,
        num_hidden_layers: k.size("num_hidden_layers", 32)?,
        num_attention_heads,
        num_key_value_heads: k.size(
            "num_key_value_heads",
            d.num_key_value_heads.unwrap_or(num_attention_heads),
        )?,
        // `head_dim: 0` reads as absent in Llama's `getattr(config, "head_dim", None) or …`.
        head_dim: k.optional_size("head_dim")?.filter(|&h| h > 0),
        max_position_embeddings: k.size("max_position_embeddings", d.max_position_embeddings)?,
        rms_norm_eps: k.float("rms_norm_eps", d.rms_norm_eps)?,
        rope_theta,
        hidden_act: k.activation("hidden_act", "silu")?,
        tie_word_embeddings: k.flag("tie_word_embeddings", false)?,
        attention_bias: k.flag("attention_bias", false)?,
        mlp_bias: k.flag("mlp_bias", false)?,
        num_local_experts: if experts {
            Some(k.size("num_local_experts", 8)?)
        } else {
            None
        },
        num_experts_per_tok: if experts {
            Some(k.size("num_experts_per_tok", 2)?)
        } else {
            None
        },
        dtype: k.dtype()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Architecture, ConfigError> {
        Architecture::from_json(text)
    }

    #[test]
    fn missing_keys_take_transformers_defaults() {
        let Architecture::Gpt2(c) = parse(r#"{"model_type": "gpt2"}"#).unwrap() else {
            panic!()
        };
        assert_eq!((c.vocab_size, c.n_embd, c.inner()), (50257, 768, 3072));
        assert!(c.tie_word_embeddings);
        let Architecture::Llama(c) =
            parse(r#"{"model_type": "mistral", "head_dim": null}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!((c.num_key_value_heads, c.head_dim()), (8, 128));
        let Architecture::Llama(c) = parse(r#"{"model_type": "llama"}"#).unwrap() else {
            panic!()
        };
        assert_eq!(
            c.num_key_value_heads, 32,
            "Llama: as many KV heads as heads"
        );
        assert_eq!(c.experts(), None);
        assert_eq!(c.dtype, DType::Float32);
        let arch = parse(r#"{"model_type": "qwen2", "torch_dtype": "bfloat16"}"#).unwrap();
        assert_eq!(arch.dtype(), DType::BFloat16);
        let arch =
            parse(r#"{"model_type": "qwen2", "dtype": "float16", "torch_dtype": "bfloat16"}"#);
        assert_eq!(arch.unwrap().dtype(), DType::Float16, "v5's key wins");
    }

    #[test]
    fn bad_configs_name_the_key() {
        let cases = [
            (r#"[1]"#, "a config is a JSON object"),
            (r#"{"n_embd": 8}"#, "the config has no model_type"),
            (r#"{"model_type": "t5"}"#, "model_type 't5' is not one"),
            (
                r#"{"model_type": "gpt2", "n_head": 0}"#,
                "n_head must be between 1",
            ),
            (
                r#"{"model_type": "gpt2", "n_embd": 100}"#,
                "n_embd 100 is not a multiple of n_head 12",
            ),
            (
                r#"{"model_type": "gpt2", "n_embd": "x"}"#,
                "n_embd must be a non-negative integer",
            ),
            (
                r#"{"model_type": "bert", "hidden_act": "mish"}"#,
                "hidden_act 'mish' is not supported",
            ),
            (
                r#"{"model_type": "llama", "num_key_value_heads": 5}"#,
                "num_attention_heads 32 is not a multiple of num_key_value_heads 5",
            ),
            (
                r#"{"model_type": "llama", "num_hidden_layers": 100000}"#,
                "num_hidden_layers must be at most 4096",
            ),
            (
                r#"{"model_type": "mixtral", "num_experts_per_tok": 9}"#,
                "num_experts_per_tok must be between 1 and num_local_experts (8)",
            ),
            (
                r#"{"model_type": "llama", "hidden_size": 4294967296}"#,
                "hidden_size must be between 1 and",
            ),
            (
                r#"{"model_type": "llama", "torch_dtype": "int8"}"#,
                "torch_dtype 'int8' is not supported",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text}: {e}");
        }
    }
}
