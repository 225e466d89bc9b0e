//! The architecture of a transformer saved as weights (read header-only), for a formula plan: from
//! the `config.json` beside the weights (a Hugging Face folder, a safetensors file or shard set, a
//! `pytorch_model.bin`), from a GGUF file's metadata, or — with neither — from the tensors' names and
//! shapes.
//!
//! Every route ends in the one config reader, [`Architecture::from_map`]: GGUF keys and inferred
//! sizes are written under `config.json`'s names first, so defaults and checks are the same as for a
//! config given by hand. Every size the formula needs is written out (never left to a default).
//!
//! What names and shapes cannot tell: the number of attention heads (`q_proj` is heads × head_dim
//! wide). Eager attention's `s²` term depends on it (and, under fused attention, a 4-byte log-sum-exp
//! per head); the inference picks a head width that divides the projections and says so, and [`FileArchitecture::heads_known`] is false.

use crate::architectures::Architecture;
use crate::sources::gguf::{self, Gguf};
use crate::summary::{ModelSummary, SourceKind};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A config is a few KiB; anything far larger is not one.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// An architecture and where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct FileArchitecture {
    pub arch: Architecture,
    /// Where it came from, for the plan's line about it.
    pub from: String,
    /// False when the head count was assumed (names and shapes only).
    pub heads_known: bool,
}

/// Whether a summary is weights under names (the kinds this module reads an architecture for).
pub fn is_weights(summary: &ModelSummary) -> bool {
    matches!(
        summary.source,
        SourceKind::Safetensors | SourceKind::StateDict | SourceKind::Gguf
    )
}

fn folder_of(path: &Path) -> PathBuf {
    if path.is_dir() {
        return path.to_path_buf();
    }
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The architecture of the weights at `path` (read as `summary`); `Ok(None)` when they are not a
/// transformer tchinfo can plan (no config beside them, no GGUF architecture keys, no known layout of
/// names); `Err` names what is wrong with a config or metadata that is there.
pub fn architecture(
    path: &Path,
    summary: &ModelSummary,
) -> Result<Option<FileArchitecture>, String> {
    let config = folder_of(path).join("config.json");
    if config.is_file() {
        let len = std::fs::metadata(&config).map(|m| m.len()).unwrap_or(0);
        if len > MAX_CONFIG_BYTES {
            return Err(
                "config.json beside the weights is larger than 1 MiB, not a model config".into(),
            );
        }
        let text = std::fs::read_to_string(&config)
            .map_err(|e| format!("config.json beside the weights: {e}"))?;
        let mut map: Map<String, Value> = serde_json::from_str(&text)
            .map_err(|e| format!("config.json beside the weights: {e}"))?;
        // A BERT config that names no class (transformers 4 left `architectures` out at times) takes
        // the task head the weights hold.
        if map.get("model_type").and_then(Value::as_str) == Some("bert")
            && map.get("architectures").is_none_or(Value::is_null)
        {
            bert_head_of(&named_shapes(summary), &mut map);
        }
        let arch = Architecture::from_map(&map)
            .map_err(|e| format!("config.json beside the weights: {e}"))?;
        return Ok(Some(FileArchitecture {
            arch,
            from: "config.json beside the weights".into(),
            heads_known: true,
        }));
    }
    if summary.source == SourceKind::Gguf {
        let file = crate::sources::open_model_file(path).map_err(|e| e.to_string())?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let header = gguf::read_header(file, len)?;
        return from_gguf(&header).map(Some);
    }
    Ok(from_names(&named_shapes(summary)))
}

/// Every parameter's full name and shape.
fn named_shapes(summary: &ModelSummary) -> BTreeMap<String, Vec<u64>> {
    summary
        .root
        .walk()
        .iter()
        .flat_map(|(_, n)| {
            n.parameters.iter().map(move |p| {
                let name = if n.path.is_empty() {
                    p.name.clone()
                } else {
                    format!("{}.{}", n.path, p.name)
                };
                (name, p.shape.clone())
            })
        })
        .collect()
}

fn config(
    map: Map<String, Value>,
    from: &str,
    heads_known: bool,
) -> Result<FileArchitecture, String> {
    Architecture::from_map(&map)
        .map(|arch| FileArchitecture {
            arch,
            from: from.to_string(),
            heads_known,
        })
        .map_err(|e| format!("{from}: {e}"))
}

/// A GGUF file's `<arch>.*` keys under `config.json`'s names.
pub fn from_gguf(g: &Gguf) -> Result<FileArchitecture, String> {
    let arch = g
        .get("general.architecture")
        .and_then(|v| v.as_str())
        .ok_or("the GGUF metadata has no general.architecture; give the model's config.json")?
        .to_string();
    let size = |key: &str| g.get(&format!("{arch}.{key}")).and_then(|v| v.as_u64());
    let need = |key: &str| {
        size(key).ok_or_else(|| {
            format!("the GGUF metadata has no {arch}.{key}; give the model's config.json")
        })
    };
    let layers = need("block_count")?;
    let hidden = need("embedding_length")?;
    let ffn = need("feed_forward_length")?;
    let heads = need("attention.head_count")?;
    let shape = |name: &str| g.tensors.iter().find(|t| t.name == name).map(|t| &t.shape);
    let vocab = size("vocab_size")
        .or_else(|| match g.get("tokenizer.ggml.tokens") {
            Some(gguf::MetaValue::Array(_, count, _)) => Some(*count),
            _ => None,
        })
        .or_else(|| shape("token_embd.weight").map(|s| s[0]))
        .ok_or("the GGUF file gives no vocabulary size; give the model's config.json")?;
    let tied = shape("output.weight").is_none();
    let context = size("context_length");
    let mut map = Map::new();
    let mut put = |k: &str, v: Value| {
        map.insert(k.to_string(), v);
    };
    match arch.as_str() {
        "llama" | "mistral" | "qwen2" => {
            let experts = size("expert_count").filter(|&n| n > 0);
            let family = match (arch.as_str(), experts) {
                (_, Some(_)) => "mixtral",
                ("qwen2", None) => "qwen2",
                ("mistral", None) => "mistral",
                _ => "llama",
            };
            put("model_type", json!(family));
            put("num_hidden_layers", json!(layers));
            put("hidden_size", json!(hidden));
            put("intermediate_size", json!(ffn));
            put("num_attention_heads", json!(heads));
            put(
                "num_key_value_heads",
                json!(size("attention.head_count_kv").unwrap_or(heads)),
            );
            if let Some(d) = size("attention.key_length") {
                put("head_dim", json!(d));
            }
            put("vocab_size", json!(vocab));
            put("tie_word_embeddings", json!(tied));
            if let Some(c) = context {
                put("max_position_embeddings", json!(c));
            }
            if let Some(n) = experts {
                put("num_local_experts", json!(n));
                put(
                    "num_experts_per_tok",
                    json!(size("expert_used_count").unwrap_or(2)),
                );
            }
            // llama.cpp keeps biases as tensors; Llama's attention_bias is what they mean.
            if arch == "llama" && shape("blk.0.attn_q.bias").is_some() {
                put("attention_bias", json!(true));
            }
        }
        "gpt2" => {
            put("model_type", json!("gpt2"));
            put("n_layer", json!(layers));
            put("n_embd", json!(hidden));
            put("n_inner", json!(ffn));
            put("n_head", json!(heads));
            put("vocab_size", json!(vocab));
            put("n_positions", json!(context.unwrap_or(1024)));
            put("tie_word_embeddings", json!(tied));
        }
        "bert" => {
            put("model_type", json!("bert"));
            put("num_hidden_layers", json!(layers));
            put("hidden_size", json!(hidden));
            put("intermediate_size", json!(ffn));
            put("num_attention_heads", json!(heads));
            put("vocab_size", json!(vocab));
            put("max_position_embeddings", json!(context.unwrap_or(512)));
            if let Some(types) = shape("token_types.weight") {
                put("type_vocab_size", json!(types[0]));
            }
        }
        other => {
            return Err(format!(
                "GGUF architecture '{other}' is not one tchinfo plans (llama, mistral, qwen2, gpt2, bert); \
                 give the model's config.json"
            ));
        }
    }
    config(map, "the GGUF metadata", true)
}

/// The layer indices `<i>` of the names `<prefix>.<i><marker>…`, and the prefix as found
/// (`model.layers`, `transformer.h`, `bert.encoder.layer` …).
fn layers_of(names: &BTreeMap<String, Vec<u64>>, marker: &str) -> Option<(String, BTreeSet<u64>)> {
    let mut prefix: Option<String> = None;
    let mut indices = BTreeSet::new();
    for name in names.keys() {
        let Some(at) = name.find(marker) else {
            continue;
        };
        let (head, _) = name.split_at(at);
        // head ends with `<prefix>.<i>`
        let Some((p, i)) = head.rsplit_once('.') else {
            continue;
        };
        let Ok(i) = i.parse::<u64>() else { continue };
        if prefix.as_deref().is_some_and(|q| q != p) {
            continue;
        }
        prefix = Some(p.to_string());
        indices.insert(i);
    }
    prefix.map(|p| (p, indices))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A head width for projections of `widths` when the file does not say: the first of `usual` that
/// divides them (128 for Llama-class models, 64 for GPT-2 and BERT), else their largest even common
/// divisor.
fn assumed_head_dim(widths: &[u64], usual: &[u64]) -> u64 {
    let common = widths.iter().fold(0, |a, &w| gcd(a, w));
    usual
        .iter()
        .copied()
        .find(|d| common.is_multiple_of(*d) && common > 0)
        .unwrap_or(if common.is_multiple_of(2) { common } else { 2 })
}

/// The architecture from the names and shapes of a Llama-family, GPT-2 or BERT checkpoint
/// (transformers' names, with or without the task model's prefix).
pub fn from_names(names: &BTreeMap<String, Vec<u64>>) -> Option<FileArchitecture> {
    let find = |suffix: &str| -> Option<&Vec<u64>> {
        names
            .iter()
            .find(|(n, _)| n.ends_with(suffix))
            .map(|(_, s)| s)
    };
    let from = "names and shapes (no config.json)";
    if let Some((prefix, layers)) = layers_of(names, ".self_attn.q_proj.weight") {
        let q = names.get(&format!(
            "{prefix}.{}.self_attn.q_proj.weight",
            layers.first()?
        ))?;
        let k = find(".self_attn.k_proj.weight")?;
        let (q_width, hidden, kv_width) = (q[0], *q.get(1)?, k[0]);
        let head_dim = assumed_head_dim(&[q_width, kv_width], &[128, 64]);
        let embed = find("embed_tokens.weight")?;
        let experts = layers_of(names, ".w1.weight")
            .filter(|(p, _)| p.contains("block_sparse_moe.experts"))
            .map(|(_, e)| e.len() as u64);
        let ffn = match experts {
            Some(_) => find(".block_sparse_moe.experts.0.w1.weight")?[0],
            None => find(".mlp.gate_proj.weight")?[0],
        };
        let family = match (experts, find(".self_attn.q_proj.bias").is_some()) {
            (Some(_), _) => "mixtral",
            (None, true) if find(".self_attn.o_proj.bias").is_none() => "qwen2",
            _ => "llama",
        };
        let mut map = Map::new();
        map.insert("model_type".into(), json!(family));
        map.insert("num_hidden_layers".into(), json!(layers.len()));
        map.insert("hidden_size".into(), json!(hidden));
        map.insert("intermediate_size".into(), json!(ffn));
        map.insert("head_dim".into(), json!(head_dim));
        map.insert("num_attention_heads".into(), json!(q_width / head_dim));
        map.insert("num_key_value_heads".into(), json!(kv_width / head_dim));
        map.insert("vocab_size".into(), json!(embed[0]));
        map.insert(
            "tie_word_embeddings".into(),
            json!(find("lm_head.weight").is_none()),
        );
        if family == "llama" {
            let bias = find(".self_attn.q_proj.bias").is_some();
            map.insert("attention_bias".into(), json!(bias));
            map.insert(
                "mlp_bias".into(),
                json!(find(".mlp.gate_proj.bias").is_some()),
            );
        }
        if let Some(n) = experts {
            map.insert("num_local_experts".into(), json!(n));
        }
        return config(map, from, false).ok();
    }
    if let Some((_, layers)) = layers_of(names, ".attn.c_attn.weight") {
        let wte = find("wte.weight")?;
        let wpe = find("wpe.weight")?;
        let hidden = wte[1];
        let ffn = *find(".mlp.c_fc.weight")?.get(1)?;
        let head_dim = assumed_head_dim(&[hidden], &[64]);
        let mut map = Map::new();
        map.insert("model_type".into(), json!("gpt2"));
        map.insert("n_layer".into(), json!(layers.len()));
        map.insert("n_embd".into(), json!(hidden));
        map.insert("n_inner".into(), json!(ffn));
        map.insert("n_head".into(), json!(hidden / head_dim));
        map.insert("vocab_size".into(), json!(wte[0]));
        map.insert("n_positions".into(), json!(wpe[0]));
        // transformers leaves a tied lm_head out of the file.
        map.insert(
            "tie_word_embeddings".into(),
            json!(find("lm_head.weight").is_none()),
        );
        return config(map, from, false).ok();
    }
    if let Some((_, layers)) = layers_of(names, ".attention.self.query.weight") {
        let words = find("embeddings.word_embeddings.weight")?;
        let positions = find("embeddings.position_embeddings.weight")?;
        let hidden = words[1];
        let head_dim = assumed_head_dim(&[hidden], &[64]);
        let mut map = Map::new();
        map.insert("model_type".into(), json!("bert"));
        map.insert("num_hidden_layers".into(), json!(layers.len()));
        map.insert("hidden_size".into(), json!(hidden));
        map.insert(
            "intermediate_size".into(),
            json!(find(".intermediate.dense.weight")?[0]),
        );
        map.insert("num_attention_heads".into(), json!(hidden / head_dim));
        map.insert("vocab_size".into(), json!(words[0]));
        map.insert("max_position_embeddings".into(), json!(positions[0]));
        if let Some(types) = find("embeddings.token_type_embeddings.weight") {
            map.insert("type_vocab_size".into(), json!(types[0]));
        }
        bert_head_of(names, &mut map);
        return config(map, from, false).ok();
    }
    None
}

/// A BERT checkpoint's task head, from its tensors (the MLM head's transform, or a classifier), as
/// `architectures` and `num_labels` in `map`; nothing for a bare `BertModel`.
fn bert_head_of(names: &BTreeMap<String, Vec<u64>>, map: &mut Map<String, Value>) {
    let find = |suffix: &str| {
        names
            .iter()
            .find(|(n, _)| n.ends_with(suffix))
            .map(|(_, s)| s)
    };
    if find("cls.predictions.transform.dense.weight").is_some() {
        map.insert("architectures".into(), json!(["BertForMaskedLM"]));
    } else if let Some(classifier) = find("classifier.weight") {
        map.insert(
            "architectures".into(),
            json!(["BertForSequenceClassification"]),
        );
        map.insert(
            "num_labels".into(),
            json!(classifier.first().copied().unwrap_or(2)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architectures::presets;

    /// A preset's own tree, written as a state dict's names and shapes, gives back its architecture
    /// (the head count aside, which shapes do not hold).
    fn names_of(arch: &Architecture) -> BTreeMap<String, Vec<u64>> {
        let tree = arch.module_tree();
        tree.walk()
            .iter()
            .flat_map(|(_, n)| {
                n.parameters
                    .iter()
                    .filter(|p| !p.is_tied())
                    .map(move |p| (format!("{}.{}", n.path, p.name), p.shape.clone()))
            })
            .collect()
    }

    #[test]
    fn llama_gpt2_and_bert_are_read_back_from_names_and_shapes() {
        for name in ["Llama-3.1-8B", "gpt2", "bert-base-uncased"] {
            let arch = presets::find(name).unwrap().architecture();
            let inferred = from_names(&names_of(&arch)).expect(name);
            assert!(!inferred.heads_known);
            assert_eq!(
                inferred.arch.parameter_count(),
                arch.parameter_count(),
                "{name}"
            );
            // Head widths 128 (Llama) and 64 (GPT-2, BERT) are the published ones.
            let same_heads = match (&inferred.arch, &arch) {
                (Architecture::Llama(a), Architecture::Llama(b)) => {
                    a.num_attention_heads == b.num_attention_heads
                        && a.num_key_value_heads == b.num_key_value_heads
                }
                (Architecture::Gpt2(a), Architecture::Gpt2(b)) => a.n_head == b.n_head,
                (Architecture::Bert(a), Architecture::Bert(b)) => {
                    a.num_attention_heads == b.num_attention_heads
                }
                _ => false,
            };
            assert!(same_heads, "{name}");
        }
    }

    #[test]
    fn other_names_are_not_a_transformer() {
        let names: BTreeMap<String, Vec<u64>> =
            [("features.0.weight".to_string(), vec![64, 3, 3, 3])].into();
        assert_eq!(from_names(&names), None);
    }
}
