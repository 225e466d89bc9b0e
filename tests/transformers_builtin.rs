//! The language models built with tch (every preset whose weights fit, and tiny configs of every family)
//! against what `transformers` builds from the same configs — the module tree, totals, tied heads, and
//! one forward pass call by call — and against `tchinfo_core::architectures`, which describes the same
//! models from their configs alone: both give the same tree, parameter for parameter and call for call.

mod builtin_common;
mod transformers_common;
use builtin_common::{assert_same_lines, module_lines, one_torch_thread};
use tchinfo::architectures::Architecture;
use tchinfo::sources::SourceError;
use tchinfo::sources::builtin::{self, BuiltinOptions, language};
use tchinfo::summary::{ModelSummary, ModuleNode, SourceKind};
use transformers_common::*;

/// The presets small enough to build here, and the tiny configs.
const BUILT: &[&str] = &[
    "gpt2",
    "gpt2-medium",
    "bert-base-uncased",
    "bert-large-uncased",
    "Qwen2.5-0.5B",
    "tiny-gpt2",
    "tiny-bert",
    "tiny-llama",
    "tiny-qwen2",
    "tiny-mistral",
    "tiny-mixtral",
];

fn no_forward() -> BuiltinOptions {
    BuiltinOptions {
        forward: false,
        ..BuiltinOptions::default()
    }
}

fn tokens(batch: u64, seq: u64) -> BuiltinOptions {
    BuiltinOptions {
        batch_size: Some(batch as i64),
        seq_len: Some(seq as i64),
        ..BuiltinOptions::default()
    }
}

fn summarize(
    name: &str,
    arch: &Architecture,
    opts: &BuiltinOptions,
) -> (ModelSummary, Vec<builtin::ModuleCall>) {
    one_torch_thread();
    let (summary, calls) =
        language::summarize_traced(name, arch, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(summary.source, SourceKind::Builtin, "{name} was built");
    (summary, calls)
}

#[test]
fn built_trees_and_totals_equal_transformers() {
    for t in totals().iter().filter(|t| BUILT.contains(&t.name.as_str())) {
        let (summary, calls) = summarize(&t.name, &architecture(&t.name), &no_forward());
        assert!(calls.is_empty());
        assert_same_lines(
            &t.name,
            &module_fixture(&t.name),
            &module_lines(&summary.root),
        );
        let totals = summary.totals();
        assert_eq!(totals.params, t.params, "{}: parameters", t.name);
        assert_eq!(totals.buffers, t.buffers, "{}: buffer elements", t.name);
        assert_eq!(tied_pairs(&summary.root), t.tied, "{}: tied", t.name);
        if presets_has(&t.name) {
            assert_eq!(builtin::param_count(&t.name, None).unwrap(), t.params);
        }
    }
}

fn presets_has(name: &str) -> bool {
    tchinfo::architectures::presets::find(name).is_some()
}

/// The forward passes the tests run (the larger recorded ones are checked through the architecture
/// description only, in tests/transformers_architectures.rs).
const RUNS: &[(&str, u64, u64)] = &[
    ("gpt2", 1, 128),
    ("gpt2", 2, 16),
    ("gpt2-medium", 1, 16),
    ("bert-base-uncased", 2, 16),
    ("bert-large-uncased", 1, 16),
    ("Qwen2.5-0.5B", 1, 16),
    ("tiny-gpt2", 2, 7),
    ("tiny-bert", 2, 7),
    ("tiny-llama", 2, 7),
    ("tiny-qwen2", 2, 7),
    ("tiny-mistral", 2, 7),
    ("tiny-mixtral", 2, 7),
    ("tiny-mixtral", 1, 1),
];

#[test]
fn every_module_call_matches_transformers() {
    for &(name, batch, seq) in RUNS {
        let run = shape_run(name, batch, seq);
        let what = format!("{name} at {batch}x{seq}");
        let (summary, calls) = summarize(name, &architecture(name), &tokens(batch, seq));
        // Call by call, in the order forward hooks fire.
        let ours: Vec<String> = calls
            .iter()
            .map(|c| format!("{} {:?} {}", c.path, c.output.shape, c.output.dtype))
            .collect();
        let theirs: Vec<String> = run
            .calls
            .iter()
            .map(|(p, s, d)| format!("{p} {s:?} {d}"))
            .collect();
        assert_same_lines(&what, &theirs, &ours);
        assert_forward_matches(&what, &summary.root, &run);
        let totals = summary.totals();
        assert_eq!(totals.mult_adds, Some(run.torchinfo_mult_adds), "{what}");
        assert_eq!(totals.op_mult_adds, Some(run.op_mult_adds), "{what}");
        assert_eq!(summary.inputs[0].shape, vec![batch, seq]);
    }
}

/// Every node of two trees, compared field by field with its path in the message.
fn assert_same_tree(what: &str, built: &ModuleNode, described: &ModuleNode) {
    let (a, b) = (built.walk(), described.walk());
    for ((_, x), (_, y)) in a.iter().zip(&b) {
        let at = format!("{what}: '{}'", x.path);
        assert_eq!(
            (&x.name, &x.path, &x.type_name, &x.qualified_type, x.kind),
            (&y.name, &y.path, &y.type_name, &y.qualified_type, y.kind),
            "{at}"
        );
        assert_eq!(x.parameters, y.parameters, "{at}: parameters");
        assert_eq!(x.buffers, y.buffers, "{at}: buffers");
        assert_eq!(x.outputs, y.outputs, "{at}: outputs");
        assert_eq!(x.repeat_outputs, y.repeat_outputs, "{at}: later calls");
        assert_eq!(x.mult_adds, y.mult_adds, "{at}: torchinfo mult-adds");
        assert_eq!(x.op_mult_adds, y.op_mult_adds, "{at}: operator mult-adds");
    }
    assert_eq!(a.len(), b.len(), "{what}: modules");
    assert_eq!(built, described, "{what}");
}

/// One source of truth: the model built with tch and run equals the description from its config alone.
#[test]
fn the_built_model_equals_its_description_from_the_config() {
    for &name in BUILT {
        let arch = architecture(name);
        let (built, _) = summarize(name, &arch, &no_forward());
        assert_same_tree(name, &built.root, &arch.module_tree());
        let (batch, seq) = if name.starts_with("tiny") {
            (3, 5)
        } else {
            (1, 8)
        };
        let (built, _) = summarize(name, &arch, &tokens(batch, seq));
        let described = arch.summary(name, Some(tchinfo::architectures::Tokens { batch, seq }));
        assert_same_tree(
            &format!("{name} at {batch}x{seq}"),
            &built.root,
            &described.root,
        );
        assert_eq!(built.inputs, described.inputs);
        assert_eq!(built.totals(), described.totals(), "{name}");
    }
}

#[test]
fn presets_too_large_to_build_are_described_from_their_config() {
    let opts = BuiltinOptions {
        seq_len: Some(4096),
        batch_size: Some(2),
        ..BuiltinOptions::default()
    };
    let (summary, calls) = builtin::summarize_traced("Llama-3.1-8B", &opts).unwrap();
    assert!(calls.is_empty());
    assert_eq!(summary.source, SourceKind::Architecture);
    let run = shape_run("Llama-3.1-8B", 2, 4096);
    assert_forward_matches("Llama-3.1-8B", &summary.root, &run);
    assert_eq!(summary.totals().op_mult_adds, Some(run.op_mult_adds));
    let note = summary.notes.join("\n");
    assert!(note.contains("was not built"), "{note}");
    assert!(note.contains("without allocating any weight"), "{note}");
    assert!(note.contains("2 × 4096 token ids"), "{note}");
    // By its Hub id too; Mixtral's experts are described the same way.
    let s = builtin::summarize("mistralai/Mixtral-8x7B-v0.1", &BuiltinOptions::default()).unwrap();
    assert_eq!(s.name, "Mixtral-8x7B");
    assert_eq!(s.totals().params, 46_702_792_704);
    let experts = s.root.find("model.layers.31.mlp.experts").unwrap();
    assert_eq!(experts.outputs.as_ref().unwrap()[0].shape, vec![128, 4096]);
}

#[test]
fn a_forward_pass_too_heavy_to_run_is_computed_from_the_architecture() {
    let opts = BuiltinOptions {
        seq_len: Some(1024),
        batch_size: Some(8),
        ..BuiltinOptions::default()
    };
    let (summary, calls) = builtin::summarize_traced("gpt2", &opts).unwrap();
    assert!(calls.is_empty());
    assert_eq!(summary.source, SourceKind::Architecture);
    let note = summary.notes.join("\n");
    assert!(
        note.contains("computed from the architecture instead"),
        "{note}"
    );
    assert_eq!(
        summary.root.outputs.as_ref().unwrap()[0].shape,
        vec![8, 1024, 50257]
    );
}

fn input_error(name: &str, opts: BuiltinOptions) -> String {
    match builtin::summarize(name, &opts) {
        Err(e @ SourceError::Input { .. }) => e.to_string(),
        other => panic!("{name}: expected an input error, got {other:?}"),
    }
}

#[test]
fn bad_inputs_are_one_clear_line() {
    let line = input_error("gpt2", tokens(1, 2048));
    assert_eq!(
        line,
        "gpt2: takes at most 1024 tokens per sequence (its learned positions), got a sequence \
         length of 2048"
    );
    let line = input_error(
        "bert-base-uncased",
        BuiltinOptions {
            input_size: Some(vec![3, 224, 224]),
            ..BuiltinOptions::default()
        },
    );
    assert!(line.contains("takes token ids"), "{line}");
    let line = input_error(
        "gpt2",
        BuiltinOptions {
            num_classes: Some(10),
            ..BuiltinOptions::default()
        },
    );
    assert!(line.contains("no classifier"), "{line}");
    let e = builtin::param_count("gpt2", Some(10))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "gpt2: a language model has no classifier to resize to 10 classes; --num-classes is for \
         image models"
    );
    let line = input_error("vgg16", tokens(1, 16));
    assert!(line.contains("--seq-len is for language models"), "{line}");
    let line = input_error("Llama-3.1-8B", tokens(1 << 14, 1 << 14));
    assert!(line.contains("more than the"), "{line}");
}

#[test]
fn names_and_suggestions() {
    assert!(builtin::is_builtin("GPT2"));
    assert!(builtin::is_builtin("meta-llama/Llama-3.2-1B"));
    assert!(!builtin::is_builtin("gpt3"));
    assert_eq!(builtin::suggest("gpt-2").as_deref(), Some("gpt2"));
    assert_eq!(
        builtin::suggest("llama-3.1-7b").as_deref(),
        Some("Llama-3.1-8B")
    );
}
