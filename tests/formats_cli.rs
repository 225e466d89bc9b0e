//! The shared weight formats through the real `tchinfo` binary: Hugging Face folders, indexes, shards,
//! GGUF, whole pickled models — read by the front binary alone (no libtorch), golden tables, the
//! architecture and file metadata in JSON, and one clean line for every file it does not read.

mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;

/// The front binary copied alone into a fresh folder: without `tchinfo-torch` beside it, any hand-over
/// to libtorch fails, so a success proves the model was read without starting libtorch.
fn lone_front_binary() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tchinfo-lone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("tchinfo");
    std::fs::copy(env!("CARGO_BIN_EXE_tchinfo"), &exe).unwrap();
    exe
}

#[test]
fn weight_files_and_model_folders_are_read_without_libtorch() {
    let exe = lone_front_binary();
    for model in [
        "models/hf/tiny_llama",
        "models/hf/tiny_llama_sharded/",
        "models/hf/tiny_llama_sharded/model.safetensors.index.json",
        "models/hf/tiny_llama_sharded/model-00002-of-00005.safetensors",
        "models/hf/tiny_bert_bin",
        "models/dtypes.safetensors",
        "models/tiny_llama.gguf",
        "models/pickled_model.pt",
        "models/quantized_dynamic_lstm.pt",
    ] {
        let out = Command::new(&exe).arg(repo_path(model)).output().unwrap();
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout(&out).contains("Total params"), "{model}");
    }
    // Asked to run a pickled model's forward, it says why not, without libtorch either.
    let out = tchinfo(&["models/pickled_model.pt", "--input-size", "1,8"]);
    assert_clean_error(
        &out,
        1,
        "models/pickled_model.pt: a pickled model's forward is Python code, which tchinfo never runs; --input-size needs a TorchScript file",
    );
    std::fs::remove_dir_all(exe.parent().unwrap()).unwrap();
}

#[test]
fn summaries_of_a_folder_and_a_gguf_file_are_golden() {
    assert_golden("hf_tiny_llama.out", &run_ok(&["models/hf/tiny_llama"]));
    assert_golden(
        "tiny_llama_gguf.out",
        &run_ok(&["models/tiny_llama.gguf", "--depth", "2"]),
    );
}

#[test]
fn json_carries_the_architecture_and_the_file_metadata() {
    let out = run_ok(&["models/hf/tiny_llama_sharded", "--format", "json"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["source"], "safetensors");
    assert_eq!(j["root_type"], "LlamaForCausalLM");
    let a = &j["architecture"];
    assert_eq!(a["described_by"], "config.json");
    assert_eq!(a["model_type"], "llama");
    assert_eq!(
        (a["layers"].as_u64(), a["kv_heads"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(a["tie_word_embeddings"], true);
    let metadata = j["file_metadata"].as_array().unwrap();
    assert!(
        metadata
            .iter()
            .any(|m| m["key"] == "shards" && m["value"] == "5")
    );
    assert_eq!(j["totals"]["tied_tensors"], 1);

    let out = run_ok(&["models/tiny_llama.gguf", "--format", "json"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["source"], "gguf");
    assert_eq!(j["architecture"]["quantization"], "Q8_0");
    assert_eq!(
        j["totals"]["params_by_dtype"]["Q8_0"].as_u64(),
        Some(18 * 1024 + 2048)
    );
    assert!(
        j["file_metadata"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["key"] == "tokenizer.ggml.tokens" && m["value"] == "[64 strings]")
    );
}

#[test]
fn files_tchinfo_does_not_read_are_one_clean_line() {
    let dir = std::env::temp_dir().join(format!("tchinfo-cli-other-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "m.onnx",
            b"\x08\x09\x12\x07pytorch",
            "an ONNX model without a graph",
        ),
        ("train.py", b"from torch import nn\n", "a Python script"),
        (
            "lies.safetensors",
            b"\x38\0\0\0\0\0\0\0{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}} ",
            "truncated",
        ),
        (
            "model.gguf",
            b"GGUF\x03\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff\0\0\0\0\0\0\0\0",
            "tensor infos",
        ),
    ];
    for (name, bytes, why) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let shown = path.display().to_string();
        let out = tchinfo(&[&shown]);
        assert_clean_error(&out, 1, &format!("{shown}: "));
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
    // A folder without weights says so, rather than trying built-in names.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let shown = empty.display().to_string();
    assert_clean_error(&tchinfo(&[&shown]), 1, "a folder without model weights");
    std::fs::remove_dir_all(&dir).unwrap();
}
