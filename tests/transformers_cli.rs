//! The built-in language models from the real binaries: per-layer golden tables for one model of each
//! family (GPT-2 and BERT built with tch; Llama described from its config), and the options and errors
//! that are theirs (`--seq-len`).

mod common;
use common::*;

/// GPT-2 built and run at its default input: the tied head shown and counted once, the position
/// embedding's output shared by the batch.
#[test]
fn gpt2_table_is_golden() {
    let out = run_ok(&["gpt2"]);
    assert_golden("gpt2.out", &out);
    for figure in [
        "GPT2LMHeadModel",
        "[1, 128, 50257]",
        "Total params: 124,439,808",
        "(tied)",
        "16,114,089,984",
        "input 1×128 int64",
    ] {
        assert!(out.contains(figure), "missing {figure:?}");
    }
}

#[test]
fn bert_table_is_golden() {
    let out = run_ok(&["bert-base-uncased", "--seq-len", "32", "--batch-size", "2"]);
    assert_golden("bert-base-uncased.out", &out);
    assert!(out.contains("Total params: 109,482,240"));
    assert!(
        out.contains("BertPooler"),
        "the pooler is part of BertModel"
    );
}

/// Too large to build here: described from its config, and it says so.
#[test]
fn llama_table_is_golden() {
    let out = run_ok(&["Llama-3.2-1B", "--depth", "4"]);
    assert_golden("Llama-3.2-1B.out", &out);
    for figure in [
        "Total params: 1,235,814,400",
        "Llama-3.2-1B was not built",
        "weights as stored (bfloat16)",
        "LlamaRotaryEmbedding",
    ] {
        assert!(out.contains(figure), "missing {figure:?}");
    }
}

#[test]
fn described_models_are_architecture_sources_in_json() {
    let out = run_ok(&["Mixtral-8x7B", "--format", "json", "--seq-len", "16"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["source"], "architecture");
    assert_eq!(json["totals"]["params"], 46_702_792_704u64);
    let out = run_ok(&["gpt2", "--format", "json", "--no-forward"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["source"], "builtin");
}

#[test]
fn compare_and_plan_take_language_models() {
    let out = run_ok(&["compare", "gpt2", "bert-base-uncased", "Qwen2.5-7B"]);
    for figure in ["124,439,808", "109,482,240", "7,615,616,512"] {
        assert!(out.contains(figure), "missing {figure:?}: {out}");
    }
    let out = run_ok(&[
        "plan",
        "Llama-3.1-8B",
        "--seq-len",
        "4096",
        "--precision",
        "bf16-mixed",
    ]);
    assert!(out.contains("weights (8,030,261,248 params)"), "{out}");
    assert!(
        out.contains("activations held for backward, batch 1"),
        "{out}"
    );
    assert!(out.contains("Korthikanti et al. 2022"), "{out}");
}

#[test]
fn bad_language_model_inputs_are_one_line() {
    assert_clean_error(
        &tchinfo(&["gpt2", "--seq-len", "2048"]),
        1,
        "gpt2: takes at most 1024 tokens per sequence",
    );
    assert_clean_error(
        &tchinfo(&["vgg16", "--seq-len", "16"]),
        1,
        "--seq-len is for language models",
    );
    let sample = model("vgg_tiny");
    assert_clean_error(
        &tchinfo(&[sample.to_str().unwrap(), "--seq-len", "16"]),
        1,
        "--seq-len is for the built-in language models",
    );
    assert_clean_error(
        &tchinfo(&["gpt2", "--seq-len", "0"]),
        2,
        "invalid value '0' for '--seq-len",
    );
    assert_clean_error(&tchinfo(&["gpt3"]), 1, "did you mean gpt2?");
}
