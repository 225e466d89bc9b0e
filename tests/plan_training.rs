//! Training plans against what PyTorch really does: the activations tchinfo measures for backward are
//! held to PyTorch's saved-tensor bytes, measured by `models/measure_training.py` (torch 2.13.0, CPU,
//! training mode, saved_tensors_hooks deduplicated by storage, parameters left out) and committed here
//! as numbers, so the tests need no Python. The full table, with the steps' measured peaks, is in
//! BENCHMARKS.md (`bench/plan_accuracy.py`).

mod common;
use common::*;
use serde_json::Value as Json;

fn plan(args: &[&str]) -> Json {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&run_ok(&all)).unwrap()
}

/// (model, batch, bytes PyTorch saved for backward).
const SAVED_BY_PYTORCH: &[(&str, u64, u64)] = &[
    ("resnet50", 8, 687_700_992),
    ("vgg16", 4, 293_421_056),
    ("mobilenet_v2", 8, 625_949_184),
    ("vit_b_16", 4, 472_642_720),
];

#[test]
fn held_for_backward_is_within_5_percent_of_pytorchs_saved_tensors() {
    for &(model, batch, saved) in SAVED_BY_PYTORCH {
        let doc = plan(&[model, "--batch-size", &batch.to_string()]);
        assert_eq!(doc["activations"]["source"], "measured");
        let held = doc["activations_bytes"].as_u64().unwrap();
        let error = (held as f64 - saved as f64).abs() / saved as f64;
        assert!(
            error < 0.05,
            "{model} at batch {batch}: held {held}, PyTorch saved {saved}"
        );
    }
}

#[test]
fn any_batch_is_planned_from_two_small_measured_ones() {
    let doc = plan(&["resnet50", "--batch-size", "256", "--budget", "80GiB"]);
    let runs = doc["activations"]["runs"].as_array().unwrap();
    assert!(runs.iter().all(|r| r["batch"].as_u64().unwrap() <= 3));
    let per_sample = doc["activations_per_sample_bytes"].as_i64().unwrap();
    let fixed = doc["activations_fixed_bytes"].as_i64().unwrap();
    assert_eq!(
        doc["activations_bytes"].as_i64().unwrap(),
        fixed + 256 * per_sample
    );
    // The peak is the highest phase, and the largest batch that fits is past 256 on 80 GiB.
    let phases = doc["phases"].as_array().unwrap();
    let highest = phases.iter().map(|p| p["bytes"].as_u64().unwrap()).max();
    assert_eq!(doc["total_bytes"].as_u64(), highest);
    assert!(doc["fit"]["largest_batch"].as_u64().unwrap() > 256);
}

#[test]
fn a_70b_class_config_is_planned_without_weights_and_zero_shards_it() {
    let n = 8_030_261_248u64; // Llama-3.1-8B
    let single = plan(&[
        "Llama-3.1-8B",
        "--seq-len",
        "4096",
        "--precision",
        "bf16-mixed",
    ]);
    assert_eq!(single["activations"]["source"], "formula");
    let state = |d: &Json| {
        [
            "weights_bytes",
            "gradients_bytes",
            "optimizer_state_bytes",
            "master_weights_bytes",
        ]
        .iter()
        .map(|k| d[k].as_u64().unwrap())
        .sum::<u64>()
    };
    assert_eq!(state(&single), 16 * n);
    let sharded = plan(&[
        "Llama-3.1-8B",
        "--seq-len",
        "4096",
        "--precision",
        "bf16-mixed",
        "--gpus",
        "8",
        "--zero",
        "3",
    ]);
    let per_gpu = state(&sharded);
    assert!(per_gpu.abs_diff(16 * n / 8) < 64, "{per_gpu}");
    // Full recomputation keeps far less than keeping everything.
    let full = plan(&[
        "Llama-3.1-8B",
        "--seq-len",
        "4096",
        "--precision",
        "bf16-mixed",
        "--checkpointing",
        "full",
    ]);
    let kept = |d: &Json| d["activations"]["layers_kept_bytes"].as_u64().unwrap();
    assert!(kept(&full) * 10 < kept(&single));
}

#[test]
fn a_config_file_plans_like_the_built_in_of_the_same_config() {
    let from_file = plan(&[
        "core/src/architectures/presets/gpt2.json",
        "--batch-size",
        "4",
    ]);
    let builtin = plan(&["gpt2", "--batch-size", "4"]);
    for key in ["params", "activations_bytes", "total_bytes"] {
        assert_eq!(from_file[key], builtin[key], "{key}");
    }
}

#[test]
fn options_for_another_kind_of_plan_are_refused_in_one_line() {
    assert_clean_error(
        &tchinfo(&["plan", "resnet18", "--checkpointing", "full"]),
        2,
        "for transformer plans",
    );
    assert_clean_error(
        &tchinfo(&["plan", "gpt2", "--gpus", "3", "--tensor-parallel", "2"]),
        2,
        "not a multiple",
    );
}
