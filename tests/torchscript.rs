//! The TorchScript / state-dict reader against its oracles: libtorch (`CModule::load` +
//! `named_parameters`) and the ground truth eager PyTorch wrote to `models/reference/*.json`.

mod common;
use common::{TORCHSCRIPT_SAMPLES, model, reference};
use serde_json::Value as Json;
use std::collections::BTreeMap;

use tchinfo::dtype::DType;
use tchinfo::sources::torchscript::read_file;
use tchinfo::summary::{LayerKind, ModelSummary, ModuleNode, SourceKind, TensorRecord};

fn read(name: &str) -> ModelSummary {
    read_file(&model(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every parameter with its full path, in walk order (tied ones included).
fn parameters(s: &ModelSummary) -> Vec<(String, &TensorRecord)> {
    s.root
        .walk()
        .into_iter()
        .flat_map(|(_, n)| n.parameters.iter().map(move |p| (full(n, &p.name), p)))
        .collect()
}

fn buffers(s: &ModelSummary) -> Vec<(String, &TensorRecord)> {
    s.root
        .walk()
        .into_iter()
        .flat_map(|(_, n)| n.buffers.iter().map(move |b| (full(n, &b.name), b)))
        .collect()
}

fn full(n: &ModuleNode, name: &str) -> String {
    n.child_path(name)
}

fn shape_of(j: &Json) -> Vec<u64> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect()
}

#[test]
fn libtorch_agrees_on_every_parameter() {
    for name in TORCHSCRIPT_SAMPLES {
        let ours: Vec<(String, Vec<u64>)> = parameters(&read(name))
            .into_iter()
            .map(|(n, p)| (n, p.shape.clone()))
            .collect();
        let module = tch::CModule::load(model(name)).unwrap();
        let theirs: Vec<(String, Vec<u64>)> = module
            .named_parameters()
            .unwrap()
            .into_iter()
            .map(|(n, t)| (n, t.size().iter().map(|&d| d as u64).collect()))
            .collect();
        assert_eq!(ours.len(), theirs.len(), "{name}: parameter count");
        assert_eq!(ours, theirs, "{name}: names, shapes and order");
    }
}

#[test]
fn totals_dtypes_and_flags_match_the_eager_reference() {
    for name in TORCHSCRIPT_SAMPLES
        .iter()
        .chain(&["state_dict", "checkpoint"])
    {
        let s = read(name);
        let r = reference(name);
        let t = s.totals();
        assert_eq!(
            t.params,
            r["total_params"].as_u64().unwrap(),
            "{name}: total params"
        );
        assert_eq!(
            t.trainable,
            r["trainable_params"].as_u64().unwrap(),
            "{name}: trainable"
        );
        assert_eq!(
            t.buffers,
            r["total_buffer_elements"].as_u64().unwrap(),
            "{name}: buffer elements"
        );

        let ours: BTreeMap<String, &TensorRecord> = parameters(&s).into_iter().collect();
        let refs = r["parameters"].as_array().unwrap();
        assert_eq!(ours.len(), refs.len(), "{name}: parameters");
        for p in refs {
            let pname = p["name"].as_str().unwrap();
            let mine = ours
                .get(pname)
                .unwrap_or_else(|| panic!("{name}: no parameter {pname}"));
            assert_eq!(mine.shape, shape_of(&p["shape"]), "{name}: {pname} shape");
            assert_eq!(
                mine.dtype.name(),
                p["dtype"].as_str().unwrap(),
                "{name}: {pname} dtype"
            );
            assert_eq!(
                mine.requires_grad,
                p["requires_grad"].as_bool().unwrap(),
                "{name}: {pname} requires_grad"
            );
            assert_eq!(
                mine.tied_to.as_deref(),
                p["tied_to"].as_str(),
                "{name}: {pname} tied"
            );
        }

        let ours: BTreeMap<String, &TensorRecord> = buffers(&s).into_iter().collect();
        let refs = r["buffers"].as_array().unwrap();
        assert_eq!(ours.len(), refs.len(), "{name}: buffers");
        for b in refs {
            let bname = b["name"].as_str().unwrap();
            let mine = ours
                .get(bname)
                .unwrap_or_else(|| panic!("{name}: no buffer {bname}"));
            assert_eq!(mine.shape, shape_of(&b["shape"]), "{name}: {bname} shape");
            assert_eq!(
                mine.dtype.name(),
                b["dtype"].as_str().unwrap(),
                "{name}: {bname} dtype"
            );
        }
    }
}

#[test]
fn module_paths_and_class_names_match_the_eager_reference() {
    for name in TORCHSCRIPT_SAMPLES {
        let s = read(name);
        let ours: Vec<(String, String)> = s
            .root
            .walk()
            .iter()
            .map(|(_, n)| (n.path.clone(), n.type_name.clone()))
            .collect();
        let theirs: Vec<(String, String)> = reference(name)["modules"]
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
        assert_eq!(ours, theirs, "{name}: modules in named_modules() order");
        assert_eq!(s.source, SourceKind::TorchScript);
    }
}

#[test]
fn vgg_names_its_classifier_layers_and_kinds() {
    let s = read("vgg_tiny");
    let classifier = s.root.find("classifier").unwrap();
    let names: Vec<&str> = classifier
        .children
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8"]
    );
    assert_eq!(classifier.kind, LayerKind::Container);
    assert_eq!(
        s.root.find("classifier.fc7").unwrap().kind,
        LayerKind::Linear
    );
    assert_eq!(
        s.root.find("features.0").unwrap().kind,
        LayerKind::Convolution
    );
    assert_eq!(s.root.find("features.1").unwrap().kind, LayerKind::Other);
    let t = s.totals();
    assert_eq!(
        t.kind_params(LayerKind::Linear),
        64 * 64 + 64 + 64 * 64 + 64 + 10 * 64 + 10
    );
    assert_eq!(
        t.kind_params(LayerKind::Convolution),
        8 * 27 + 8 + 16 * 72 + 16
    );
}

#[test]
fn class_names_lose_their_mangling_but_keep_the_qualified_name() {
    let s = read("nested_blocks");
    let b0 = s.root.find("blocks.0").unwrap();
    let b1 = s.root.find("blocks.1").unwrap();
    assert_eq!(
        (b0.type_name.as_str(), b1.type_name.as_str()),
        ("MyBlock", "MyBlock")
    );
    assert_eq!(b0.qualified_type.as_deref(), Some("__torch__.MyBlock"));
    let q1 = b1.qualified_type.as_deref().unwrap();
    assert!(
        q1.starts_with("__torch__.___torch_mangle_") && q1.ends_with(".MyBlock"),
        "{q1}"
    );
    // A user class that owns a parameter and holds children is not a container.
    assert_eq!(b0.kind, LayerKind::Other);
    assert_eq!(s.root.find("blocks").unwrap().type_name, "ModuleList");
    assert_eq!(s.root.find("heads").unwrap().type_name, "ModuleDict");
    let keys: Vec<&str> = s
        .root
        .find("blocks.0.extras")
        .unwrap()
        .children
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(keys, ["norm", "act"]);
}

#[test]
fn frozen_parameters_are_not_trainable() {
    let t = read("frozen_backbone").totals();
    assert_eq!(
        (t.trainable, t.non_trainable),
        (16 * 32 + 32 + 32 * 5 + 5, 8 * 27 + 8 + 16 + 16 * 72 + 16)
    );
}

#[test]
fn tied_weights_count_once_and_say_where_they_point() {
    let s = read("tied_embedding");
    let out = s.root.find("out").unwrap();
    assert_eq!(out.parameters[0].tied_to.as_deref(), Some("embed.weight"));
    let t = s.totals();
    assert_eq!((t.tied_tensors, t.tied_params), (1, 50 * 16));
    assert_eq!(t.params, 50 * 16 + 16 * 16 + 16);
}

#[test]
fn half_precision_weights_report_their_real_bytes() {
    let t = read("half_mlp").totals();
    assert_eq!(t.param_dtypes, vec![(DType::Float16, 808)]);
    assert_eq!(t.param_bytes, 808 * 2);
}

#[test]
fn batchnorm_buffers_keep_their_dtypes() {
    let s = read("resnet_tiny_traced");
    let bn = s.root.find("layer2.0.downsample.1").unwrap();
    assert_eq!(bn.type_name, "BatchNorm2d");
    let b: Vec<(&str, DType)> = bn
        .buffers
        .iter()
        .map(|b| (b.name.as_str(), b.dtype))
        .collect();
    assert_eq!(
        b,
        [
            ("running_mean", DType::Float32),
            ("running_var", DType::Float32),
            ("num_batches_tracked", DType::Int64)
        ]
    );
}

#[test]
fn script_and_trace_and_both_layouts_give_one_tree() {
    let shape = |s: &ModelSummary| -> Vec<(String, String, usize, usize)> {
        s.root
            .walk()
            .iter()
            .map(|(_, n)| {
                (
                    n.path.clone(),
                    n.type_name.clone(),
                    n.parameters.len(),
                    n.buffers.len(),
                )
            })
            .collect()
    };
    let scripted = read("resnet_tiny_scripted");
    assert_eq!(shape(&scripted), shape(&read("resnet_tiny_traced")));
    assert_eq!(shape(&scripted), shape(&read("data_version_layout")));
}

#[test]
fn state_dicts_get_an_inferred_tree_and_say_so() {
    let s = read("state_dict");
    assert_eq!(s.source, SourceKind::StateDict);
    assert!(
        s.notes.iter().any(|n| n.contains("inferred")),
        "{:?}",
        s.notes
    );
    let types: Vec<(&str, &str)> = [
        "conv1",
        "bn1",
        "layer1",
        "layer2.0.downsample.0",
        "layer2.0.downsample.1",
        "fc",
    ]
    .iter()
    .map(|p| (*p, s.root.find(p).unwrap().type_name.as_str()))
    .collect();
    assert_eq!(
        types,
        [
            ("conv1", "Conv2d"),
            ("bn1", "BatchNorm2d"),
            ("layer1", "Sequential"),
            ("layer2.0.downsample.0", "Conv2d"),
            ("layer2.0.downsample.1", "BatchNorm2d"),
            ("fc", "Linear")
        ]
    );
    let t = s.totals();
    assert_eq!(t.kind_params(LayerKind::Linear), 16 * 10 + 10);
    assert_eq!(
        t.kind_params(LayerKind::Normalization),
        2 * (8 + 8 + 8 + 16 + 16 + 16)
    );
}

#[test]
fn a_training_checkpoint_shows_its_model_and_says_where_it_was() {
    let s = read("checkpoint");
    assert_eq!(s.source, SourceKind::StateDict);
    assert!(
        s.notes.iter().any(|n| n.contains("['model']")),
        "{:?}",
        s.notes
    );
    let plain = read("state_dict");
    let paths = |s: &ModelSummary| -> Vec<String> {
        s.root.walk().iter().map(|(_, n)| n.path.clone()).collect()
    };
    assert_eq!(paths(&s), paths(&plain));
}
