//! Training plans against what PyTorch really does: the activations tchinfo measures for backward are
//! held to PyTorch's saved-tensor bytes, measured by `models/measure_training.py` (torch 2.13.0, CPU,
//! training mode, saved_tensors_hooks deduplicated by storage, parameters left out — and buffers too
//! in the TorchScript rows, measured since the script leaves them out) and committed here
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
        assert_within(held, saved, 0.05, &format!("{model} at batch {batch}"));
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
    // Each GPU gathers the largest layer whole in 16 bits while it runs: the 128,256 × 4,096
    // embedding (larger than a 218M-parameter block), on the forward and backward phases.
    assert_eq!(sharded["zero3_gathered_bytes"], 2 * 128_256 * 4096);
    assert_eq!(sharded["zero3_gathered"], "the embedding");
    assert_eq!(single["zero3_gathered_bytes"], Json::Null);
    let forward = &sharded["phases"][0];
    assert_eq!(
        forward["bytes"].as_u64().unwrap(),
        per_gpu - sharded["gradients_bytes"].as_u64().unwrap()
            + sharded["activations_bytes"].as_u64().unwrap()
            + 2 * 128_256 * 4096
    );
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

/// TorchScript files, measured in the sandbox: (file, --input-size, --dtype, batch, bytes PyTorch saved
/// for backward), from `models/measure_training.py FILE --batch B --input-size SIZE [--dtype i64
/// --ids-rows 100]` (the file loaded with torch.jit.load, the graph executor's optimisations off;
/// parameters, buffers and the code's tensor constants left out, as the step does not allocate them).
const SAVED_BY_PYTORCH_TORCHSCRIPT: &[(&str, &str, &str, u64, u64)] = &[
    (
        "models/resnet_tiny_scripted.pt",
        "1,3,32,32",
        "f32",
        8,
        2_327_616,
    ),
    (
        "models/resnet_tiny_traced.pt",
        "1,3,32,32",
        "f32",
        8,
        2_327_040,
    ),
    ("models/vgg_tiny.pt", "1,3,32,32", "f32", 8, 800_768),
    // BERT returns its pooler's output too: the loss does not use it, yet autograd keeps what the pooler
    // saved (a view of the whole last hidden state, its tanh output) while the forward's result lives.
    ("models/bert_tiny.pt", "1,8", "i64", 2, 54_592),
    ("models/bert_tiny.pt", "1,8", "i64", 4, 109_120),
    ("models/bert_tiny.pt", "1,8", "i64", 8, 218_176),
    // A trace with its batch baked in: measured at its batch alone.
    ("models/gpt2_tiny.pt", "1,8", "i64", 1, 60_480),
];

/// The bar is 5%; every file agrees to the byte today, so the test holds them to 1%: BERT's pooler
/// branch, when it went uncounted, was 4% of its bytes, inside the bar yet a real miss.
#[test]
fn a_torchscript_files_held_for_backward_is_within_1_percent_of_pytorchs() {
    for &(file, size, dtype, batch, saved) in SAVED_BY_PYTORCH_TORCHSCRIPT {
        let doc = plan(&[
            file,
            "--input-size",
            size,
            "--dtype",
            dtype,
            "--batch-size",
            &batch.to_string(),
        ]);
        assert_eq!(doc["activations"]["source"], "measured", "{file}");
        let runs = doc["activations"]["runs"].as_array().unwrap();
        assert!(
            runs.iter().all(|r| r["batch"].as_u64().unwrap() <= 3),
            "{file}"
        );
        let held = doc["activations_bytes"].as_u64().unwrap();
        assert_within(held, saved, 0.01, &format!("{file} at batch {batch}"));
    }
}

#[test]
fn a_trace_with_its_batch_baked_in_is_planned_at_that_batch_only() {
    let doc = plan(&[
        "models/gpt2_tiny.pt",
        "--input-size",
        "1,8",
        "--dtype",
        "i64",
    ]);
    let activations = &doc["activations"];
    assert_eq!(activations["fixed_batch"], 1);
    assert_eq!(activations["runs"].as_array().unwrap().len(), 1);
    assert!(
        activations["method"]
            .as_str()
            .unwrap()
            .contains("its batch is fixed: it fails at batch 2"),
        "{activations}"
    );
    assert_eq!(doc["activations_per_sample_bytes"], 0);
    // Another batch is refused in one line that says why, never extrapolated.
    assert_clean_error(
        &tchinfo(&[
            "plan",
            "models/gpt2_tiny.pt",
            "--input-size",
            "1,8",
            "--dtype",
            "i64",
            "--batch-size",
            "4",
        ]),
        1,
        "its batch is fixed",
    );
}

#[test]
fn a_frozen_file_holds_nothing_for_backward_and_says_so() {
    let doc = plan(&["models/resnet_tiny_frozen.pt", "--input-size", "1,3,32,32"]);
    assert_eq!(doc["activations_bytes"], 0);
    assert!(
        doc["activations"]["method"]
            .as_str()
            .unwrap()
            .starts_with("none: the file's output does not require grad")
    );
}

#[test]
fn a_fixed_batch_fits_a_budget_at_that_batch_or_not_at_all() {
    let plan_with = |budget: &str| {
        plan(&[
            "models/gpt2_tiny.pt",
            "--input-size",
            "1,8",
            "--dtype",
            "i64",
            "--budget",
            budget,
        ])
    };
    let roomy = plan_with("1GiB");
    assert_eq!(roomy["fit"]["largest_batch"], 1);
    let tight = plan_with("1KiB");
    assert_eq!(tight["fit"]["largest_batch"], 0);
    let text = run_ok(&[
        "plan",
        "models/gpt2_tiny.pt",
        "--input-size",
        "1,8",
        "--dtype",
        "i64",
        "--budget",
        "1GiB",
    ]);
    assert!(
        text.contains("the model runs at batch 1 only, and its peak"),
        "{text}"
    );
}
