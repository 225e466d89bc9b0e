//! The weight formats people share, read header-only, against what PyTorch and each format's own Python
//! reader said about the same samples (`models/export_formats.py` writes both: the samples and
//! `models/reference/*.json`). Hugging Face folders, indexes and shards; single safetensors files of
//! every dtype; GGUF; whole pickled models; a dynamic-quantized state dict.

use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tchinfo_core::dtype::DType;
use tchinfo_core::sources::{self, SourceError, safetensors};
use tchinfo_core::summary::{LayerKind, ModelSummary, SourceKind, TensorRecord};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn read(rel: &str) -> ModelSummary {
    sources::read_file(&models().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn reference(name: &str) -> Json {
    let text = std::fs::read_to_string(models().join("reference").join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn shape(j: &Json) -> Vec<u64> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect()
}

fn u(j: &Json) -> u64 {
    j.as_u64().unwrap_or_else(|| panic!("not a number: {j}"))
}

/// Every tensor by its full path: (record, is a parameter).
fn tensors(s: &ModelSummary) -> BTreeMap<String, (TensorRecord, bool)> {
    let mut out = BTreeMap::new();
    for (_, n) in s.root.walk() {
        for p in &n.parameters {
            out.insert(n.child_path(&p.name), (p.clone(), true));
        }
        for b in &n.buffers {
            out.insert(n.child_path(&b.name), (b.clone(), false));
        }
    }
    out
}

/// Totals, per dtype and bytes, as PyTorch counted the model in memory.
fn assert_totals(name: &str, s: &ModelSummary, r: &Json) {
    let t = s.totals();
    assert_eq!(t.params, u(&r["total_params"]), "{name}: total params");
    assert_eq!(t.trainable, u(&r["trainable_params"]), "{name}: trainable");
    let ours: BTreeMap<String, u64> = t
        .param_dtypes
        .iter()
        .map(|(d, n)| (d.name().to_string(), *n))
        .collect();
    let theirs: BTreeMap<String, u64> = r["params_by_dtype"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), u(v)))
        .collect();
    assert_eq!(ours, theirs, "{name}: params per dtype");
    let bytes: u64 = r["param_bytes_by_dtype"]
        .as_object()
        .unwrap()
        .values()
        .map(u)
        .sum();
    assert_eq!(t.param_bytes, bytes, "{name}: parameter bytes");
}

/// Tied parameters as `named_parameters(remove_duplicate=False)` repeats them.
fn assert_tied(name: &str, s: &ModelSummary, r: &Json) {
    let all = tensors(s);
    for tie in r["tied"].as_array().unwrap() {
        let path = tie["name"].as_str().unwrap();
        let (record, _) = all
            .get(path)
            .unwrap_or_else(|| panic!("{name}: no tied tensor {path}"));
        assert_eq!(
            record.tied_to.as_deref(),
            tie["tied_to"].as_str(),
            "{name}: {path}"
        );
    }
    let tied = all.values().filter(|(t, _)| t.is_tied()).count();
    assert_eq!(
        tied,
        r["tied"].as_array().unwrap().len(),
        "{name}: tied tensors"
    );
}

const HF_FOLDERS: [&str; 5] = [
    "tiny_llama",
    "tiny_llama_sharded",
    "tiny_bert",
    "tiny_gpt2",
    "tiny_mixtral",
];

#[test]
fn hugging_face_folders_match_pytorch_tensor_by_tensor() {
    for name in HF_FOLDERS {
        let s = read(&format!("hf/{name}"));
        let r = reference(&format!("hf_{name}"));
        assert_eq!(s.source, SourceKind::Safetensors, "{name}");
        assert_totals(name, &s, &r);
        assert_tied(name, &s, &r);
        let all = tensors(&s);
        let files = r["file_tensors"].as_array().unwrap();
        assert_eq!(
            all.values().filter(|(t, _)| !t.is_tied()).count(),
            files.len(),
            "{name}: every tensor of the files, once"
        );
        for f in files {
            let path = f["name"].as_str().unwrap();
            let (t, _) = all.get(path).unwrap_or_else(|| panic!("{name}: no {path}"));
            assert_eq!(t.shape, shape(&f["shape"]), "{name}: {path}");
            assert_eq!(
                Some(t.dtype),
                safetensors::dtype_named(f["dtype"].as_str().unwrap()),
                "{name}: {path}"
            );
            assert_eq!(t.bytes(), u(&f["bytes"]), "{name}: {path} bytes");
        }
        // The architecture, as config.json states it.
        let a = s.architecture.as_ref().unwrap();
        let c = &r["config"];
        assert_eq!(a.model_type.as_deref(), c["model_type"].as_str(), "{name}");
        let layers = c.get("num_hidden_layers").or(c.get("n_layer")).map(u);
        let hidden = c.get("hidden_size").or(c.get("n_embd")).map(u);
        let heads = c.get("num_attention_heads").or(c.get("n_head")).map(u);
        assert_eq!(
            (a.layers, a.hidden_size, a.attention_heads),
            (layers, hidden, heads),
            "{name}"
        );
        assert_eq!(a.kv_heads, c.get("num_key_value_heads").map(u), "{name}");
        assert_eq!(a.vocab_size, c.get("vocab_size").map(u), "{name}");
        assert_eq!(
            a.context_length,
            c.get("max_position_embeddings")
                .or(c.get("n_positions"))
                .map(u),
            "{name}"
        );
        assert_eq!(a.experts, c.get("num_local_experts").map(u), "{name}");
        assert_eq!(
            a.tie_word_embeddings,
            c["tie_word_embeddings"].as_bool(),
            "{name}"
        );
        // The class that loads the weights names the root.
        assert!(
            s.root.type_name.ends_with("ForCausalLM")
                || s.root.type_name.ends_with("LMHeadModel")
                || s.root.type_name.ends_with("ForMaskedLM"),
            "{name}: {}",
            s.root.type_name
        );
    }
}

#[test]
fn a_folder_an_index_a_shard_and_the_config_read_as_one_model() {
    let shape = |s: &ModelSummary| -> Vec<(String, String, u64)> {
        s.root
            .walk()
            .iter()
            .map(|(_, n)| (n.path.clone(), n.type_name.clone(), n.subtree_params()))
            .collect()
    };
    let folder = read("hf/tiny_llama_sharded");
    for rel in [
        "hf/tiny_llama_sharded/model.safetensors.index.json",
        "hf/tiny_llama_sharded/model-00001-of-00005.safetensors",
        "hf/tiny_llama_sharded/model-00004-of-00005.safetensors",
        "hf/tiny_llama_sharded/config.json",
    ] {
        let s = read(rel);
        assert_eq!(shape(&s), shape(&folder), "{rel}");
        assert_eq!(s.totals().params, folder.totals().params, "{rel}");
    }
    let shards = folder.file_metadata.iter().find(|(k, _)| k == "shards");
    assert_eq!(shards.map(|(_, v)| v.as_str()), Some("5"));
    // The index's own metadata is shown.
    assert!(
        folder
            .file_metadata
            .iter()
            .any(|(k, v)| k == "index total_size" && v == "82560")
    );
    // One file of a single-file folder reads alone, with the config beside it.
    let single = read("hf/tiny_llama/model.safetensors");
    assert_eq!(
        single.totals().params,
        read("hf/tiny_llama").totals().params
    );
    assert!(single.architecture.is_some());
}

/// A copy of a sample folder in a fresh temporary directory of its own (`tag` tells tests apart).
fn copy_folder(rel: &str, tag: &str) -> PathBuf {
    let from = models().join(rel);
    let to = std::env::temp_dir().join(format!(
        "tchinfo-formats-{tag}-{}-{}",
        rel.replace('/', "-"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

fn error(path: &Path) -> String {
    match sources::read_file(path) {
        Ok(_) => panic!("{} was read", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_missing_shard_is_named() {
    let dir = copy_folder("hf/tiny_llama_sharded", "missing");
    std::fs::remove_file(dir.join("model-00003-of-00005.safetensors")).unwrap();
    for given in [
        dir.clone(),
        dir.join("model.safetensors.index.json"),
        dir.join("model-00001-of-00005.safetensors"),
    ] {
        let e = error(&given);
        assert!(
            e.starts_with(&format!("{}: ", given.display()))
                && e.contains(
                    "shard model-00003-of-00005.safetensors, named by the index, is missing"
                ),
            "{e}"
        );
    }
    // Without the index, the set is known by its names.
    std::fs::remove_file(dir.join("model.safetensors.index.json")).unwrap();
    let e = error(&dir.join("model-00001-of-00005.safetensors"));
    assert!(
        e.contains("shard model-00003-of-00005.safetensors of the set is missing"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_index_that_lies_is_refused() {
    let dir = copy_folder("hf/tiny_llama_sharded", "lies");
    let index = dir.join("model.safetensors.index.json");
    let text = std::fs::read_to_string(&index).unwrap();
    // Moves the embedding to a shard that does not hold it.
    let moved = text.replacen(
        "\"model.embed_tokens.weight\": \"model-00001-of-00005.safetensors\"",
        "\"model.embed_tokens.weight\": \"model-00002-of-00005.safetensors\"",
        1,
    );
    assert_ne!(moved, text);
    std::fs::write(&index, moved).unwrap();
    let e = error(&dir);
    assert!(
        e.contains("places tensor 'model.embed_tokens.weight' in model-00002-of-00005.safetensors, which does not hold it"),
        "{e}"
    );
    std::fs::write(&index, text.replacen("model-00002-of-00005", "../x", 1)).unwrap();
    assert!(error(&dir).contains("must sit beside the index"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn torch_save_shards_with_their_index_match_pytorch() {
    let s = read("hf/tiny_bert_bin");
    let r = reference("hf_tiny_bert_bin");
    assert_eq!(s.source, SourceKind::StateDict);
    assert_totals("tiny_bert_bin", &s, &r);
    assert_tied("tiny_bert_bin", &s, &r);
    let all = tensors(&s);
    for t in r["state_dict"].as_array().unwrap() {
        let path = t["name"].as_str().unwrap();
        let (rec, _) = all.get(path).unwrap_or_else(|| panic!("no {path}"));
        assert_eq!(rec.shape, shape(&t["shape"]), "{path}");
    }
    // One shard, named as one of a set, reads the whole set.
    let shard = read("hf/tiny_bert_bin/pytorch_model-00002-of-00002.bin");
    assert_eq!(shard.totals().params, s.totals().params);
}

#[test]
fn every_safetensors_dtype_has_its_exact_bytes() {
    let s = read("dtypes.safetensors");
    let r = reference("dtypes");
    let all = tensors(&s);
    let want = r["tensors"].as_array().unwrap();
    assert_eq!(all.len(), want.len());
    for t in want {
        let name = t["name"].as_str().unwrap();
        let (rec, _) = &all[name];
        assert_eq!(
            Some(rec.dtype),
            safetensors::dtype_named(t["dtype"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(rec.shape, shape(&t["shape"]), "{name}");
        assert_eq!(rec.bytes(), u(&t["bytes"]), "{name}");
    }
    // The sub-byte floats: 6 and 4 bits an element.
    assert_eq!(all["t_f6_e2m3"].0.bytes(), 4 * 8 * 6 / 8);
    assert_eq!(all["t_float4_e2m1fn_x2"].0.bytes(), 3 * 10 / 2);
    // __metadata__ is shown as the file has it.
    let metadata: Vec<(String, String)> = r["metadata"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(s.file_metadata, metadata);
}

/// gguf-py's name for a type: PyTorch's float and integer types by ggml's short names.
fn ggml_type_name(d: DType) -> &'static str {
    match d {
        DType::Float32 => "F32",
        DType::Float16 => "F16",
        DType::BFloat16 => "BF16",
        DType::Float64 => "F64",
        DType::Int8 => "I8",
        DType::Int16 => "I16",
        DType::Int32 => "I32",
        DType::Int64 => "I64",
        other => other.name(),
    }
}

fn assert_gguf_tensors(name: &str, s: &ModelSummary, r: &Json) {
    let all = tensors(s);
    for t in r["tensors"].as_array().unwrap() {
        let path = t["name"].as_str().unwrap();
        let (rec, _) = all.get(path).unwrap_or_else(|| panic!("{name}: no {path}"));
        assert_eq!(rec.shape, shape(&t["shape"]), "{name}: {path}");
        assert_eq!(
            ggml_type_name(rec.dtype),
            t["type"].as_str().unwrap(),
            "{name}: {path}"
        );
        assert_eq!(rec.numel(), u(&t["elements"]), "{name}: {path}");
        assert_eq!(rec.bytes(), u(&t["bytes"]), "{name}: {path}");
    }
}

#[test]
fn gguf_reads_as_gguf_s_own_reader_and_pytorch_count_it() {
    let s = read("tiny_llama.gguf");
    let r = reference("tiny_llama_gguf");
    assert_eq!(s.source, SourceKind::Gguf);
    assert_gguf_tensors("tiny_llama.gguf", &s, &r);
    let t = s.totals();
    // PyTorch's count of the model it was converted from (the tied head counted once).
    assert_eq!(t.params, u(&r["total_params"]));
    let bytes: u64 = r["by_type"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| u(&v["bytes"]))
        .sum();
    assert_eq!(t.param_bytes, bytes);
    // No output.weight: the head is the embedding, tied.
    let output = s.root.find("output").unwrap();
    assert_eq!(
        output.parameters[0].tied_to.as_deref(),
        Some("token_embd.weight")
    );
    let a = s.architecture.as_ref().unwrap();
    assert_eq!(a.model_type.as_deref(), Some("llama"));
    assert_eq!(
        (
            a.layers,
            a.hidden_size,
            a.attention_heads,
            a.kv_heads,
            a.vocab_size,
            a.context_length
        ),
        (Some(2), Some(32), Some(4), Some(2), Some(64), Some(128))
    );
    assert_eq!(a.quantization.as_deref(), Some("Q8_0"));
    // Quantized matrices are frozen; the float norms count as trainable.
    assert_eq!(t.trainable, u(&r["by_type"]["F32"]["elements"]));

    let s = read("ggml_types.gguf");
    let r = reference("ggml_types");
    assert_gguf_tensors("ggml_types.gguf", &s, &r);
    assert_eq!(tensors(&s).len(), r["tensors"].as_array().unwrap().len());
    assert!(
        !s.notes.iter().any(|n| n.contains("does not know")),
        "{:?}",
        s.notes
    );
}

#[test]
fn whole_pickled_models_give_pytorch_s_own_tree() {
    for (file, name) in [
        ("pickled_model.pt", "pickled_model"),
        ("pickled_checkpoint.pt", "pickled_model"),
        ("pickled_gpt2.pt", "pickled_gpt2"),
    ] {
        let s = read(file);
        let r = reference(name);
        assert_eq!(s.source, SourceKind::PickledModule, "{file}");
        let ours: Vec<(String, String)> = s
            .root
            .walk()
            .iter()
            .map(|(_, n)| (n.path.clone(), n.type_name.clone()))
            .collect();
        let theirs: Vec<(String, String)> = r["modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["path"].as_str().unwrap().to_string(),
                    m["type"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(ours, theirs, "{file}: modules in named_modules() order");
        assert_totals(file, &s, &r);
        let all = tensors(&s);
        for p in r["parameters"].as_array().unwrap() {
            let path = p["name"].as_str().unwrap();
            let (rec, is_param) = all.get(path).unwrap_or_else(|| panic!("{file}: no {path}"));
            assert!(is_param, "{file}: {path}");
            assert_eq!(rec.shape, shape(&p["shape"]), "{file}: {path}");
            assert_eq!(
                rec.dtype.name(),
                p["dtype"].as_str().unwrap(),
                "{file}: {path}"
            );
            assert_eq!(
                rec.requires_grad,
                p["requires_grad"].as_bool().unwrap(),
                "{file}: {path}"
            );
            assert_eq!(
                rec.tied_to.as_deref(),
                p["tied_to"].as_str(),
                "{file}: {path}"
            );
        }
        for b in r["buffers"].as_array().unwrap() {
            let path = b["name"].as_str().unwrap();
            let (rec, is_param) = all.get(path).unwrap_or_else(|| panic!("{file}: no {path}"));
            assert!(!is_param, "{file}: {path}");
            assert_eq!(rec.shape, shape(&b["shape"]), "{file}: {path}");
        }
        assert_eq!(s.totals().buffers, u(&r["total_buffer_elements"]), "{file}");
    }
    let checkpoint = read("pickled_checkpoint.pt");
    assert!(
        checkpoint.notes.iter().any(|n| n.contains("['model']")),
        "{:?}",
        checkpoint.notes
    );
    // transformers' Conv1D is a Linear, whatever its name says.
    let gpt2 = read("pickled_gpt2.pt");
    let c_attn = gpt2.root.find("transformer.h.0.attn.c_attn").unwrap();
    assert_eq!(
        (c_attn.type_name.as_str(), c_attn.kind),
        ("Conv1D", LayerKind::Linear)
    );
    assert_eq!(
        gpt2.root.find("").unwrap().qualified_type.as_deref(),
        Some("transformers.models.gpt2.modeling_gpt2.GPT2LMHeadModel")
    );
}

#[test]
fn dynamic_quantized_layers_count_their_packed_weights() {
    let s = read("quantized_dynamic_lstm.pt");
    let r = reference("quantized_dynamic_lstm");
    let t = s.totals();
    // The float model's parameters: quantization packs them, it does not remove them (PyTorch's
    // parameters() on the quantized model sees only the embedding).
    assert_eq!(t.params, u(&r["total_params"]));
    assert_eq!(
        u(&r["quantized_parameters_reported_by_pytorch"]),
        u(&r["layers"]["embed"])
    );
    for (layer, ty) in [
        ("embed", "Embedding"),
        ("lstm", "LSTM"),
        ("gru", "GRU"),
        ("out", "Linear"),
    ] {
        let node = s.root.find(layer).unwrap();
        assert_eq!(node.type_name, ty, "{layer}");
        assert_eq!(node.subtree_params(), u(&r["layers"][layer]), "{layer}");
    }
    // Only the float embedding can be trained.
    assert_eq!(t.trainable, u(&r["layers"]["embed"]));
    assert!(t.param_dtypes.iter().any(|(d, _)| *d == DType::QInt8));
    assert!(
        s.notes.iter().any(|n| n.contains("dynamic-quantized")),
        "{:?}",
        s.notes
    );
}

/// Layer types from names and shapes, on the real samples (item 4 of issue 14).
#[test]
fn layer_types_come_from_names_and_shapes() {
    let ty = |s: &ModelSummary, p: &str| {
        s.root
            .find(p)
            .unwrap_or_else(|| panic!("no {p}"))
            .type_name
            .clone()
    };
    let gpt2 = read("hf/tiny_gpt2");
    assert_eq!(ty(&gpt2, "transformer.wte"), "Embedding");
    assert_eq!(ty(&gpt2, "transformer.wpe"), "Embedding");
    for p in ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"] {
        assert_eq!(ty(&gpt2, &format!("transformer.h.1.{p}")), "Conv1D", "{p}");
    }
    assert_eq!(ty(&gpt2, "transformer.h.0.ln_1"), "LayerNorm");
    assert_eq!(ty(&gpt2, "lm_head"), "Linear");
    // Conv1D counts as Linear: GPT-2 is no convolutional network.
    let t = gpt2.totals();
    assert_eq!(t.kind_params(LayerKind::Convolution), 0);
    assert_eq!(
        t.kind_params(LayerKind::Embedding)
            + t.kind_params(LayerKind::Linear)
            + t.kind_params(LayerKind::Normalization),
        t.params
    );
    // The same types as the pickled GPT-2 class names them.
    let pickled = read("pickled_gpt2.pt");
    for (_, n) in gpt2.root.walk() {
        if n.parameters.iter().any(|p| !p.is_tied()) {
            let theirs = pickled.root.find(&n.path).unwrap();
            assert_eq!(n.type_name, theirs.type_name, "{}", n.path);
        }
    }

    let llama = read("hf/tiny_llama");
    assert_eq!(ty(&llama, "model.embed_tokens"), "Embedding");
    assert_eq!(ty(&llama, "model.layers.0.input_layernorm"), "RMSNorm");
    assert_eq!(ty(&llama, "model.norm"), "RMSNorm");
    for p in [
        "self_attn.q_proj",
        "self_attn.k_proj",
        "mlp.gate_proj",
        "mlp.down_proj",
    ] {
        assert_eq!(ty(&llama, &format!("model.layers.1.{p}")), "Linear", "{p}");
    }
    let bert = read("hf/tiny_bert");
    assert_eq!(ty(&bert, "bert.embeddings.word_embeddings"), "Embedding");
    assert_eq!(
        ty(&bert, "bert.embeddings.token_type_embeddings"),
        "Embedding"
    );
    assert_eq!(ty(&bert, "bert.embeddings.LayerNorm"), "LayerNorm");
    assert_eq!(
        ty(&bert, "bert.encoder.layer.0.attention.self.query"),
        "Linear"
    );
    assert_eq!(ty(&bert, "cls.predictions.decoder"), "Linear");
    let mixtral = read("hf/tiny_mixtral");
    assert_eq!(
        ty(&mixtral, "model.layers.0.block_sparse_moe.gate"),
        "Linear"
    );
    assert_eq!(
        ty(&mixtral, "model.layers.0.block_sparse_moe.experts.3.w2"),
        "Linear"
    );
    let gguf = read("tiny_llama.gguf");
    assert_eq!(ty(&gguf, "token_embd"), "Embedding");
    assert_eq!(ty(&gguf, "blk.0.attn_norm"), "RMSNorm");
    assert_eq!(ty(&gguf, "blk.0.attn_q"), "Linear");
    assert_eq!(ty(&gguf, "blk.0.ffn_down"), "Linear");
    assert_eq!(ty(&gguf, "output_norm"), "RMSNorm");
    // Reading order: the embedding first, the head last.
    let first = &llama.root.find("model").unwrap().children[0];
    assert_eq!(first.name, "embed_tokens");
    assert_eq!(gguf.root.children.first().unwrap().name, "token_embd");
    assert_eq!(gguf.root.children.last().unwrap().name, "output");
}

#[test]
fn safetensors_that_lie_are_refused_with_one_line_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("tchinfo-lies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, json: &str, data: usize| {
        let mut v = (json.len() as u64).to_le_bytes().to_vec();
        v.extend(json.as_bytes());
        v.extend(vec![0u8; data]);
        let p = dir.join(name);
        std::fs::write(&p, v).unwrap();
        p
    };
    let cases = [
        (
            write(
                "outside.safetensors",
                r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
                8,
            ),
            "truncated",
        ),
        (
            write(
                "overlap.safetensors",
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                12,
            ),
            "overlaps",
        ),
    ];
    for (path, why) in cases {
        let e = error(&path);
        assert!(
            e.starts_with(&format!("{}: ", path.display())) && e.contains(why),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1);
    }
    // A header longer than 100 MB is refused before it is read.
    let mut big = 200_000_000u64.to_le_bytes().to_vec();
    big.extend(b"{}");
    let p = dir.join("huge.safetensors");
    std::fs::write(&p, &big).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    file.set_len(300_000_000).unwrap();
    let e = error(&p);
    assert!(
        e.contains("more than the 100000000 safetensors allows"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn formats_tchinfo_does_not_read_are_named() {
    let dir = std::env::temp_dir().join(format!("tchinfo-other-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "model.onnx",
            b"\x08\x08\x12\x07pytorch\x1a\x052.13.0",
            "an ONNX model",
        ),
        (
            "train.py",
            b"import torch\n\nmodel = torch.nn.Linear(2, 2)\n",
            "a Python script",
        ),
        ("model.h5", b"\x89HDF\r\n\x1a\n\0\0\0\0", "HDF5"),
        ("model.tflite", b"\x1c\0\0\0TFL3\0\0\0\0", "TensorFlow Lite"),
        (
            "tokenizer.json",
            b"{\"version\": \"1.0\", \"model\": {}}",
            "a JSON file, not a model",
        ),
    ];
    for (name, bytes, what) in cases {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = error(&p);
        assert!(
            e.starts_with(&format!("{}: ", p.display())) && e.contains(what),
            "{e}"
        );
    }
    // A TensorFlow SavedModel folder.
    let saved = dir.join("saved");
    std::fs::create_dir_all(&saved).unwrap();
    std::fs::write(saved.join("saved_model.pb"), b"\x08\x01\x12\0").unwrap();
    assert!(error(&saved).contains("TensorFlow SavedModel"));
    assert!(error(&saved.join("saved_model.pb")).contains("TensorFlow SavedModel"));
    std::fs::remove_dir_all(&dir).unwrap();
    let e: SourceError = sources::read_file(&models().join("no-such-folder/")).unwrap_err();
    assert!(e.to_string().contains("no-such-folder"), "{e}");
}
