//! The `.pt2` and ONNX readers against eager PyTorch on the same models: `models/export.py` wrote the
//! files with `torch.export.save` and `torch.onnx.export`, and `models/reference/graphs/<name>.json`
//! holds what PyTorch said about each model at the export's example input — every module's output
//! shapes (forward hooks), every parameter, torchinfo's totals, and each module's own operator
//! mult-adds from `torch.utils.flop_counter`. Nothing here runs Python or libtorch.

use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tchinfo_core::sources::{LoadOptions, read_file_with};
use tchinfo_core::summary::{ModelSummary, ModuleNode, SourceKind, TensorValue};

/// Parameters as (name, shape, dtype, requires_grad, tied to).
type Params = Vec<(String, Vec<u64>, String, bool, Option<String>)>;

fn sample(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(file)
}

fn reference(name: &str) -> Json {
    let path = sample(&format!("reference/graphs/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn read(file: &str, batch: Option<i64>) -> ModelSummary {
    let opts = LoadOptions {
        batch_size: batch,
        ..LoadOptions::default()
    };
    read_file_with(&sample(file), &opts).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn error(file: &str, batch: Option<i64>) -> String {
    let opts = LoadOptions {
        batch_size: batch,
        ..LoadOptions::default()
    };
    match read_file_with(&sample(file), &opts) {
        Ok(_) => panic!("{file} was read"),
        Err(e) => e.to_string(),
    }
}

fn shape(j: &Json) -> Vec<u64> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect()
}

fn shapes(outputs: &[TensorValue]) -> Vec<Vec<u64>> {
    outputs.iter().map(|v| v.shape.clone()).collect()
}

fn ref_shapes(j: &Json) -> Option<Vec<Vec<u64>>> {
    j.as_array().map(|calls| calls.iter().map(shape).collect())
}

fn node<'a>(s: &'a ModelSummary, path: &str) -> &'a ModuleNode {
    s.root
        .find(path)
        .unwrap_or_else(|| panic!("{}: no module {path:?}", s.name))
}

fn has_note(s: &ModelSummary, words: &[&str]) -> bool {
    s.notes.iter().any(|n| words.iter().all(|w| n.contains(w)))
}

/// Every module of the reference has our output shapes (every call's), or none where PyTorch's hook
/// saw none. With `ran_only`, modules whose operators the file does not keep apart are skipped.
fn assert_module_shapes(s: &ModelSummary, modules: &Json, skip: &[&str]) {
    for m in modules.as_array().unwrap() {
        let path = m["path"].as_str().unwrap();
        if skip.contains(&path) {
            continue;
        }
        let ours = node(s, path);
        assert_eq!(
            ours.outputs.as_deref().map(shapes),
            ref_shapes(&m["output_shapes"]),
            "{}: {path:?} output shapes",
            s.name
        );
        let repeats: Vec<Vec<Vec<u64>>> = m["repeat_output_shapes"]
            .as_array()
            .map(|calls| calls.iter().map(|c| ref_shapes(c).unwrap()).collect())
            .unwrap_or_default();
        let our_repeats: Vec<Vec<Vec<u64>>> =
            ours.repeat_outputs.iter().map(|c| shapes(c)).collect();
        assert_eq!(our_repeats, repeats, "{}: {path:?} later calls", s.name);
    }
}

/// Each module's own operator mult-adds and the total equal flop_counter's (FLOPs / 2).
fn assert_op_mult_adds(s: &ModelSummary, op_mult_adds: &Json, total: &Json) {
    let expected: BTreeMap<&str, u64> = op_mult_adds
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_u64().unwrap()))
        .collect();
    for (_, n) in s.root.walk() {
        assert_eq!(
            n.op_mult_adds.unwrap_or(0),
            expected.get(n.path.as_str()).copied().unwrap_or(0),
            "{}: operator mult-adds of {:?}",
            s.name,
            n.path
        );
    }
    assert_eq!(
        s.totals().op_mult_adds,
        total.as_u64(),
        "{}: total operator mult-adds",
        s.name
    );
}

/// Parameters each module owns itself (tied ones once, where PyTorch counts them), from the
/// reference's parameter list.
fn ref_params_by_module(r: &Json) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for p in r["parameters"].as_array().unwrap() {
        if p.get("tied_to").is_some() {
            continue;
        }
        let name = p["name"].as_str().unwrap();
        let owner = name.rsplit_once('.').map_or("", |(o, _)| o).to_string();
        *out.entry(owner).or_default() += shape(&p["shape"]).iter().product::<u64>();
    }
    out
}

fn params_by_module(s: &ModelSummary) -> BTreeMap<String, u64> {
    s.root
        .walk()
        .into_iter()
        .filter(|(_, n)| n.own_params() > 0)
        .map(|(_, n)| (n.path.clone(), n.own_params()))
        .collect()
}

/// (file, reference, dynamic batch)
const PT2: &[(&str, &str)] = &[
    ("resnet_tiny.pt2", "resnet_tiny"),
    ("tiny_transformer.pt2", "tiny_transformer"),
    ("tied_embedding.pt2", "tied_embedding"),
    ("tied_embedding_legacy_layout.pt2", "tied_embedding"),
    ("bias_before_bn.pt2", "bias_before_bn"),
];

#[test]
fn pt2_parameters_buffers_and_ties_are_pytorchs() {
    for (file, name) in PT2 {
        let s = read(file, None);
        let r = reference(name);
        assert_eq!(s.source, SourceKind::ExportedProgram);
        let t = s.totals();
        assert_eq!(
            t.params,
            r["total_params"].as_u64().unwrap(),
            "{file}: params"
        );
        assert_eq!(
            t.trainable,
            r["trainable_params"].as_u64().unwrap(),
            "{file}: trainable"
        );
        assert_eq!(
            t.buffers,
            r["total_buffer_elements"].as_u64().unwrap(),
            "{file}: buffers"
        );
        let ours: Params = s
            .root
            .walk()
            .into_iter()
            .flat_map(|(_, n)| {
                n.parameters.iter().map(move |p| {
                    (
                        n.child_path(&p.name),
                        p.shape.clone(),
                        p.dtype.name().to_string(),
                        p.requires_grad,
                        p.tied_to.clone(),
                    )
                })
            })
            .collect();
        let theirs: Params = r["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    shape(&p["shape"]),
                    p["dtype"].as_str().unwrap().to_string(),
                    p["requires_grad"].as_bool().unwrap(),
                    p["tied_to"].as_str().map(str::to_string),
                )
            })
            .collect();
        let sorted = |mut v: Params| {
            v.sort();
            v
        };
        assert_eq!(sorted(ours), sorted(theirs), "{file}: parameters");
    }
}

#[test]
fn pt2_module_tree_shapes_and_counts_are_pytorchs() {
    for (file, name) in PT2 {
        let s = read(file, None);
        let r = reference(name);
        for m in r["modules"].as_array().unwrap() {
            let ours = node(&s, m["path"].as_str().unwrap());
            // A module that never ran has no class in the graph: the guess is noted, not checked.
            if ours.qualified_type.is_some() {
                assert_eq!(ours.type_name, m["type"].as_str().unwrap(), "{file}");
            }
        }
        assert_module_shapes(&s, &r["modules"], &[]);
        assert_op_mult_adds(&s, &r["op_mult_adds"], &r["total_op_mult_adds"]);
        assert_eq!(
            s.totals().mult_adds,
            r["torchinfo_total_mult_adds"].as_u64(),
            "{file}: torchinfo's mult-adds"
        );
        let inputs: Vec<Vec<u64>> = s.inputs.iter().map(|v| v.shape.clone()).collect();
        let ref_inputs: Vec<Vec<u64>> = r["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| shape(&i["shape"]))
            .collect();
        assert_eq!(inputs, ref_inputs, "{file}: inputs");
        assert!(
            !has_note(&s, &["leave out"]),
            "{file}: every operator counted: {:?}",
            s.notes
        );
    }
}

#[test]
fn a_dynamic_batch_is_evaluated_at_another_size_with_nothing_run() {
    for (file, name) in PT2 {
        let r = reference(name);
        if !r["dynamic_batch"].as_bool().unwrap() {
            continue;
        }
        let s = read(file, Some(3));
        let at3 = &r["at_batch_3"];
        assert_module_shapes(&s, &at3["modules"], &[]);
        assert_op_mult_adds(&s, &at3["op_mult_adds"], &at3["total_op_mult_adds"]);
        assert_eq!(s.inputs[0].shape, shape(&at3["inputs"][0]["shape"]));
        assert!(
            has_note(&s, &["= 3 (input", "dimension 0", "nothing run"]),
            "{:?}",
            s.notes
        );
        // Without a batch, the sizes are the export's example and say so.
        let example = read(file, None);
        assert!(
            has_note(&example, &["example", "= 2 (input"]),
            "{:?}",
            example.notes
        );
    }
}

#[test]
fn a_fixed_batch_cannot_be_changed() {
    let e = error("tied_embedding.pt2", Some(3));
    assert!(
        e.starts_with(&sample("tied_embedding.pt2").display().to_string()),
        "{e}"
    );
    assert!(
        e.contains("input tokens, dimension 0 is fixed at 2")
            && e.contains("dynamic batch")
            && e.contains("at 3"),
        "{e}"
    );
    // The size it has is fine.
    assert_eq!(read("tied_embedding.pt2", Some(2)).inputs[0].shape, [2, 8]);
    // The older layout finds which parameters share storage in its pickled state dict.
    let legacy = read("tied_embedding_legacy_layout.pt2", None);
    assert!(
        has_note(&legacy, &["older torch.export archive"]),
        "{:?}",
        legacy.notes
    );
}

#[test]
fn onnx_from_the_dynamo_exporter_matches_pytorch() {
    for (file, name) in [
        ("tiny_transformer.onnx", "tiny_transformer"),
        ("tied_embedding.onnx", "tied_embedding"),
        ("resnet_tiny_unoptimized.onnx", "resnet_tiny"),
    ] {
        let s = read(file, Some(2));
        let r = reference(name);
        assert_eq!(s.source, SourceKind::Onnx);
        let t = s.totals();
        assert_eq!(
            t.params,
            r["total_params"].as_u64().unwrap(),
            "{file}: params"
        );
        assert_eq!(params_by_module(&s), ref_params_by_module(&r), "{file}");
        assert_module_shapes(&s, &r["modules"], &[]);
        assert_op_mult_adds(&s, &r["op_mult_adds"], &r["total_op_mult_adds"]);
        assert_eq!(
            t.mult_adds,
            r["torchinfo_total_mult_adds"].as_u64(),
            "{file}: torchinfo's mult-adds"
        );
        for m in r["modules"].as_array().unwrap() {
            let ours = node(&s, m["path"].as_str().unwrap());
            if ours.qualified_type.is_some() {
                assert_eq!(ours.type_name, m["type"].as_str().unwrap(), "{file}");
            }
        }
        assert!(has_note(
            &s,
            &["ONNX model by pytorch 2.13.0", "opset ai.onnx"]
        ));
        assert!(!has_note(&s, &["leave out"]), "{file}: {:?}", s.notes);
    }
    // The tied head: the exporter keeps the embedding's matrix once plus a transposed copy for the
    // output projection's MatMul; PyTorch counts one parameter, and so does the reader.
    let tied = read("tied_embedding.onnx", Some(2));
    let out = node(&tied, "out");
    assert_eq!(out.parameters[0].tied_to.as_deref(), Some("embed.weight"));
    assert!(
        has_note(&tied, &["transposed", "counted once"]),
        "{:?}",
        tied.notes
    );
    // Running statistics are buffers; num_batches_tracked is not used by the graph, so not exported.
    let unopt = read("resnet_tiny_unoptimized.onnx", Some(2));
    assert_eq!(unopt.totals().buffers, 144);
}

#[test]
fn onnx_with_the_exporters_defaults_says_what_it_folded_and_where_the_weights_are() {
    let s = read("resnet_tiny_defaults.onnx", Some(2));
    let r = reference("resnet_tiny");
    assert_eq!(
        s.totals().params,
        r["bn_folded_params"].as_u64().unwrap(),
        "BatchNorm folded into the convolutions"
    );
    assert_eq!(s.totals().op_mult_adds, r["total_op_mult_adds"].as_u64());
    // The convolutions' operators run under their BatchNorm: the BatchNorm's output is the pair's.
    let convs: Vec<&str> = r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "Conv2d")
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    assert_module_shapes(&s, &r["modules"], &convs);
    assert!(has_note(&s, &["FuseBatchNormIntoConv"]), "{:?}", s.notes);
    assert!(
        has_note(
            &s,
            &[
                "external data",
                "resnet_tiny_defaults.onnx.data",
                "not opened"
            ]
        ),
        "{:?}",
        s.notes
    );
    // Without a batch size the symbolic batch is shown at 1, and said so.
    let one = read("resnet_tiny_defaults.onnx", None);
    assert_eq!(one.inputs[0].shape, [1, 3, 32, 32]);
    assert!(
        has_note(&one, &["'batch'", "shown at 1"]),
        "{:?}",
        one.notes
    );
}

#[test]
fn onnx_from_the_torchscript_exporter_has_its_tree_from_node_names() {
    let s = read("resnet_tiny_legacy.onnx", Some(2));
    let r = reference("resnet_tiny");
    assert_eq!(s.totals().params, r["bn_folded_params"].as_u64().unwrap());
    // Anonymous folded weights (onnx::Conv_62) land in the convolution that uses them.
    for conv in ["conv1", "layer1.0.conv1", "layer2.0.downsample.0"] {
        let n = node(&s, conv);
        assert_eq!(n.type_name, "Conv2d", "{conv}");
        let names: Vec<&str> = n.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["weight", "bias"], "{conv}");
    }
    // relu_1, the exporter's name for the block's second ReLU call, is the same module.
    assert!(s.root.find("layer1.0.relu_1").is_none());
    assert_eq!(node(&s, "layer1.0.relu").type_name, "ReLU");
    // No intermediate shapes in the file: no invented ones, no operator count of 0 shown as real.
    assert!(
        has_note(&s, &["no shapes of intermediate values"]),
        "{:?}",
        s.notes
    );
    assert!(node(&s, "layer1.0.conv1").outputs.is_none());
    assert_eq!(s.totals().op_mult_adds, None);
    assert_eq!(
        node(&s, "fc").outputs.as_deref().map(shapes),
        Some(vec![vec![2, 10]])
    );
}
