//! A Hugging Face `config.json`, read into typed fields whatever the model type calls them.
//!
//! Model families name the same hyperparameter differently: GPT-2 writes `n_layer`, `n_embd`,
//! `n_head`, `n_positions`; T5 `num_layers`, `d_model`, `num_heads`, `d_ff`; BERT and Llama
//! `num_hidden_layers`, `hidden_size`, `num_attention_heads`, `max_position_embeddings`. Each field
//! here takes the first of its names the file holds (the order is in its doc). A multimodal model's
//! language model keeps its own config under `text_config`, read the same way.
//!
//! Values are taken as stated, never derived: GPT-2's `n_inner: null` (meaning 4 × `n_embd`) stays
//! unknown. A value of the wrong type is unknown too; only a file that is not a JSON object, or is
//! larger than [`MAX_CONFIG_BYTES`], is an error.

use crate::summary::Architecture;
use serde_json::{Map, Value};
use std::io::Read;
use std::path::Path;

/// The largest config read. Real ones are a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Where a LM head can be found under the names transformers' classes use.
const LM_HEAD_SUFFIXES: [&str; 7] = [
    "ForCausalLM",
    "LMHeadModel",
    "ForConditionalGeneration",
    "ForMaskedLM",
    "ForPreTraining",
    "WithLMHead",
    "ForSpeechSeq2Seq",
];

/// The hyperparameters of a `config.json`; `None` where the file does not say.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HfConfig {
    /// `model_type`.
    pub model_type: Option<String>,
    /// `architectures`: the classes that load the weights (`LlamaForCausalLM`).
    pub architectures: Vec<String>,
    /// `num_hidden_layers`, `n_layer`, `num_layers`, `n_layers`.
    pub num_hidden_layers: Option<u64>,
    /// `encoder_layers` (BART, Whisper), else `num_layers` when `num_decoder_layers` is given (T5).
    pub encoder_layers: Option<u64>,
    /// `decoder_layers`, `num_decoder_layers`.
    pub decoder_layers: Option<u64>,
    /// `hidden_size`, `n_embd`, `d_model`, `dim`.
    pub hidden_size: Option<u64>,
    /// `intermediate_size`, `n_inner`, `d_ff`, `ffn_dim`, `encoder_ffn_dim`, `hidden_dim`.
    pub intermediate_size: Option<u64>,
    /// `num_attention_heads`, `n_head`, `num_heads`, `n_heads`, `encoder_attention_heads`.
    pub num_attention_heads: Option<u64>,
    /// `num_key_value_heads`, `num_kv_heads`, `n_head_kv`; 1 for `multi_query: true`.
    pub num_key_value_heads: Option<u64>,
    /// `head_dim`, `d_kv`.
    pub head_dim: Option<u64>,
    /// `vocab_size`.
    pub vocab_size: Option<u64>,
    /// `max_position_embeddings`, `n_positions`, `n_ctx`, `max_seq_len`, `seq_length`,
    /// `max_sequence_length`.
    pub max_position_embeddings: Option<u64>,
    /// `num_local_experts`, `num_experts`, `n_routed_experts`, `moe_num_experts`.
    pub num_local_experts: Option<u64>,
    /// `num_experts_per_tok`, `num_experts_per_token`, `moe_top_k`.
    pub num_experts_per_tok: Option<u64>,
    /// `tie_word_embeddings` as written; see [`HfConfig::ties_word_embeddings`].
    pub tie_word_embeddings: Option<bool>,
    /// `torch_dtype` (transformers 4), `dtype` (transformers 5).
    pub dtype: Option<String>,
    /// `quantization_config.quant_method` (`gptq`, `awq`, `bitsandbytes`, `fp8` …).
    pub quant_method: Option<String>,
    /// A multimodal model's language model (`text_config`).
    pub text_config: Option<Box<HfConfig>>,
}

impl HfConfig {
    /// Reads `path`, at most [`MAX_CONFIG_BYTES`].
    pub fn read(path: &Path) -> Result<HfConfig, String> {
        // Never a FIFO or a device planted in a model folder: opened as the model files are.
        let file = crate::sources::open_model_file(path).map_err(|e| match e {
            crate::sources::SourceError::Format { problem, .. } => problem,
            e => format!("cannot read it: {e}"),
        })?;
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read it: {e}"))?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(format!(
                "larger than the {} MiB a config.json may take",
                MAX_CONFIG_BYTES >> 20
            ));
        }
        HfConfig::parse(&bytes)
    }

    pub fn parse(bytes: &[u8]) -> Result<HfConfig, String> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
        match value {
            Value::Object(map) => Ok(HfConfig::from_map(&map, 0)),
            _ => Err("not a JSON object: not a Hugging Face config.json".into()),
        }
    }

    fn from_map(m: &Map<String, Value>, depth: usize) -> HfConfig {
        let int = |names: &[&str]| names.iter().find_map(|n| m.get(*n).and_then(as_u64));
        let text = |name: &str| m.get(name).and_then(Value::as_str).map(str::to_string);
        let decoder_layers = int(&["decoder_layers", "num_decoder_layers"]);
        let encoder_layers = int(&["encoder_layers"]).or(if m.contains_key("num_decoder_layers") {
            int(&["num_layers"])
        } else {
            None
        });
        let kv_heads = int(&["num_key_value_heads", "num_kv_heads", "n_head_kv"]).or(
            match m.get("multi_query") {
                Some(Value::Bool(true)) => Some(1),
                _ => None,
            },
        );
        HfConfig {
            model_type: text("model_type"),
            architectures: m
                .get("architectures")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            num_hidden_layers: int(&["num_hidden_layers", "n_layer", "num_layers", "n_layers"]),
            encoder_layers,
            decoder_layers,
            hidden_size: int(&["hidden_size", "n_embd", "d_model", "dim"]),
            intermediate_size: int(&[
                "intermediate_size",
                "n_inner",
                "d_ff",
                "ffn_dim",
                "encoder_ffn_dim",
                "hidden_dim",
            ]),
            num_attention_heads: int(&[
                "num_attention_heads",
                "n_head",
                "num_heads",
                "n_heads",
                "encoder_attention_heads",
            ]),
            num_key_value_heads: kv_heads,
            head_dim: int(&["head_dim", "d_kv"]),
            vocab_size: int(&["vocab_size"]),
            max_position_embeddings: int(&[
                "max_position_embeddings",
                "n_positions",
                "n_ctx",
                "max_seq_len",
                "seq_length",
                "max_sequence_length",
            ]),
            num_local_experts: int(&[
                "num_local_experts",
                "num_experts",
                "n_routed_experts",
                "moe_num_experts",
            ]),
            num_experts_per_tok: int(&[
                "num_experts_per_tok",
                "num_experts_per_token",
                "moe_top_k",
            ]),
            tie_word_embeddings: m.get("tie_word_embeddings").and_then(Value::as_bool),
            dtype: text("torch_dtype").or_else(|| text("dtype")),
            quant_method: m
                .get("quantization_config")
                .and_then(|q| q.get("quant_method"))
                .and_then(Value::as_str)
                .map(str::to_string),
            // Nested configs nest once in practice; the bound keeps a hostile file's recursion short.
            text_config: match m.get("text_config") {
                Some(Value::Object(t)) if depth < 4 => {
                    Some(Box::new(HfConfig::from_map(t, depth + 1)))
                }
                _ => None,
            },
        }
    }

    /// Whether the output head shares the input embedding's weight. A config saved by transformers
    /// leaves `tie_word_embeddings` out only when it holds the default, `true`; a multimodal model's
    /// text config may say instead.
    pub fn ties_word_embeddings(&self) -> bool {
        self.tie_word_embeddings
            .or_else(|| self.text_config.as_ref()?.tie_word_embeddings)
            .unwrap_or(true)
    }

    /// Whether the classes it names end in a language-model head (`…ForCausalLM`, `…LMHeadModel`,
    /// `…ForConditionalGeneration`, `…ForMaskedLM` …).
    pub fn has_lm_head(&self) -> bool {
        self.architectures
            .iter()
            .any(|a| LM_HEAD_SUFFIXES.iter().any(|s| a.ends_with(s)))
    }

    /// The language model's own config: `text_config` when there is one, else this one.
    fn language_model(&self) -> &HfConfig {
        self.text_config.as_deref().unwrap_or(self)
    }

    /// The architecture as a summary shows it; a field missing at the top is taken from
    /// `text_config`.
    pub fn architecture(&self) -> Architecture {
        let lm = self.language_model();
        let pick = |f: fn(&HfConfig) -> Option<u64>| f(self).or_else(|| f(lm));
        Architecture {
            described_by: "config.json".to_string(),
            model_type: self.model_type.clone(),
            architectures: self.architectures.clone(),
            layers: pick(|c| c.num_hidden_layers),
            encoder_layers: pick(|c| c.encoder_layers),
            decoder_layers: pick(|c| c.decoder_layers),
            hidden_size: pick(|c| c.hidden_size),
            intermediate_size: pick(|c| c.intermediate_size),
            attention_heads: pick(|c| c.num_attention_heads),
            kv_heads: pick(|c| c.num_key_value_heads),
            head_dim: pick(|c| c.head_dim),
            vocab_size: pick(|c| c.vocab_size),
            context_length: pick(|c| c.max_position_embeddings),
            experts: pick(|c| c.num_local_experts),
            experts_per_token: pick(|c| c.num_experts_per_tok),
            tie_word_embeddings: Some(self.ties_word_embeddings()),
            dtype: self.dtype.clone().or_else(|| lm.dtype.clone()),
            quantization: self.quant_method.clone(),
        }
    }
}

/// A non-negative integer, also when written as `4096.0`.
fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        let f = v.as_f64()?;
        (f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64).then_some(f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> HfConfig {
        HfConfig::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn gpt2_bert_llama_t5_and_mixtral_names_read_alike() {
        let gpt2 = parse(
            r#"{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"n_layer":12,"n_embd":768,
                "n_head":12,"n_inner":null,"n_positions":1024,"vocab_size":50257}"#,
        );
        let a = gpt2.architecture();
        assert_eq!(
            (a.layers, a.hidden_size, a.attention_heads, a.context_length),
            (Some(12), Some(768), Some(12), Some(1024))
        );
        assert_eq!(a.intermediate_size, None);
        // Left out by transformers because it holds the default.
        assert!(gpt2.ties_word_embeddings() && gpt2.has_lm_head());

        let llama = parse(
            r#"{"model_type":"llama","architectures":["LlamaForCausalLM"],"num_hidden_layers":32,
                "hidden_size":4096,"intermediate_size":11008,"num_attention_heads":32,
                "num_key_value_heads":8,"max_position_embeddings":4096.0,"tie_word_embeddings":false,
                "torch_dtype":"bfloat16"}"#,
        );
        let a = llama.architecture();
        assert_eq!((a.kv_heads, a.context_length), (Some(8), Some(4096)));
        assert_eq!(a.tie_word_embeddings, Some(false));
        assert_eq!(a.dtype.as_deref(), Some("bfloat16"));

        let t5 = parse(
            r#"{"model_type":"t5","num_layers":6,"num_decoder_layers":4,"d_model":512,"d_ff":2048,
                "num_heads":8,"d_kv":64}"#,
        );
        let a = t5.architecture();
        assert_eq!(
            (a.layers, a.encoder_layers, a.decoder_layers, a.head_dim),
            (Some(6), Some(6), Some(4), Some(64))
        );
        assert!(!t5.has_lm_head());

        let mixtral = parse(
            r#"{"num_local_experts":8,"num_experts_per_tok":2,"quantization_config":{"quant_method":"gptq"}}"#,
        );
        let a = mixtral.architecture();
        assert_eq!((a.experts, a.experts_per_token), (Some(8), Some(2)));
        assert_eq!(a.quantization.as_deref(), Some("gptq"));
        assert_eq!(
            parse(r#"{"multi_query":true}"#).num_key_value_heads,
            Some(1)
        );
    }

    #[test]
    fn a_multimodal_model_reads_its_text_config() {
        let c = parse(
            r#"{"model_type":"llava","architectures":["LlavaForConditionalGeneration"],
                "text_config":{"model_type":"llama","num_hidden_layers":2,"hidden_size":64,
                "vocab_size":100,"tie_word_embeddings":false}}"#,
        );
        let a = c.architecture();
        assert_eq!(a.model_type.as_deref(), Some("llava"));
        assert_eq!(
            (a.layers, a.hidden_size, a.vocab_size),
            (Some(2), Some(64), Some(100))
        );
        assert!(!c.ties_word_embeddings());
    }

    #[test]
    fn wrong_types_are_unknown_and_only_a_non_object_is_an_error() {
        let c = parse(r#"{"num_hidden_layers":"two","hidden_size":-3,"architectures":"x"}"#);
        assert_eq!((c.num_hidden_layers, c.hidden_size), (None, None));
        assert!(c.architectures.is_empty());
        assert!(
            HfConfig::parse(b"[1]")
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(
            HfConfig::parse(b"{")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
