//! Summaries of models built with tch, from their VarStore.

use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};
use tchinfo::dtype::DType;
use tchinfo::sources::SourceError;
use tchinfo::sources::varstore::{record_module_output, summarize_varstore};
use tchinfo::summary::{LayerKind, SourceKind, TensorValue};

/// features (conv, batch norm), classifier (two linears): created features first, which is the order
/// the summary must keep even though "classifier" sorts first by name.
fn small_cnn(vs: &nn::VarStore) -> impl ModuleT + use<> {
    let root = vs.root();
    let f = &root / "features";
    let c = &root / "classifier";
    nn::seq_t()
        .add(nn::conv2d(&f / 0, 3, 8, 3, Default::default()))
        .add(nn::batch_norm2d(&f / 1, 8, Default::default()))
        .add_fn(|x| x.relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1))
        .add(nn::linear(&c / 0, 8, 16, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(&c / 2, 16, 4, Default::default()))
}

#[test]
fn tree_types_and_counts_follow_the_variables() {
    let vs = nn::VarStore::new(Device::Cpu);
    let _net = small_cnn(&vs);
    let s = summarize_varstore(&vs, "small_cnn");
    assert_eq!(s.source, SourceKind::VarStore);
    assert!(s.notes.iter().any(|n| n.contains("inferred")));
    let modules: Vec<(String, String)> = s
        .root
        .walk()
        .iter()
        .map(|(_, n)| (n.path.clone(), n.type_name.clone()))
        .collect();
    let expect = [
        ("", "VarStore"),
        ("features", "Sequential"),
        ("features.0", "Conv2d"),
        ("features.1", "BatchNorm2d"),
        ("classifier", "Sequential"),
        ("classifier.0", "Linear"),
        ("classifier.2", "Linear"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    assert_eq!(modules, expect);

    let t = s.totals();
    let conv = 8 * 3 * 9 + 8;
    let bn = 8 + 8;
    let fc = 8 * 16 + 16 + 16 * 4 + 4;
    assert_eq!(
        (t.params, t.trainable, t.non_trainable),
        (conv + bn + fc, conv + bn + fc, 0)
    );
    assert_eq!(t.buffers, 16, "running mean and variance");
    assert_eq!(t.kind_params(LayerKind::Linear), fc);
    assert_eq!(t.param_dtypes, vec![(DType::Float32, conv + bn + fc)]);
}

#[test]
fn a_frozen_store_is_not_trainable() {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let _net = small_cnn(&vs);
    vs.freeze();
    let t = summarize_varstore(&vs, "frozen").totals();
    assert_eq!(t.trainable, 0);
    assert_eq!(t.non_trainable, t.params);
    assert!(t.params > 0);
}

#[test]
fn shared_variables_are_tied_and_counted_once() {
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let embed = nn::embedding(&root / "embed", 50, 16, Default::default());
    let _head = (&root / "head").add("weight", embed.ws.shallow_clone(), true);
    let s = summarize_varstore(&vs, "tied");
    let t = s.totals();
    assert_eq!((t.params, t.tied_tensors, t.tied_params), (800, 1, 800));
    assert_eq!(s.root.find("embed").unwrap().type_name, "Embedding");
    assert_eq!(
        s.root.find("head").unwrap().parameters[0]
            .tied_to
            .as_deref(),
        Some("embed.weight")
    );
}

#[test]
fn half_precision_stores_report_their_real_bytes() {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let _fc = nn::linear(vs.root() / "fc", 4, 4, Default::default());
    vs.half();
    let t = summarize_varstore(&vs, "half").totals();
    assert_eq!(t.param_dtypes, vec![(DType::Float16, 20)]);
    assert_eq!(t.param_bytes, 20 * 2);
}

#[test]
fn the_overall_output_shape_is_recorded_and_a_bad_input_is_an_error() {
    let vs = nn::VarStore::new(Device::Cpu);
    let net = nn::seq().add(nn::linear(vs.root() / "fc", 8, 3, Default::default()));
    let mut s = summarize_varstore(&vs, "mlp");
    let input = Tensor::zeros([2, 8], (Kind::Float, Device::Cpu));
    record_module_output(&mut s, &net, &input).unwrap();
    assert_eq!(
        s.root.outputs,
        Some(vec![TensorValue {
            shape: vec![2, 3],
            dtype: DType::Float32
        }])
    );
    assert_eq!(
        s.inputs,
        vec![TensorValue {
            shape: vec![2, 8],
            dtype: DType::Float32
        }]
    );

    let mut s = summarize_varstore(&vs, "mlp");
    let wrong = Tensor::zeros([2, 5], (Kind::Float, Device::Cpu));
    let e = record_module_output(&mut s, &net, &wrong).unwrap_err();
    assert!(matches!(e, SourceError::Input { .. }), "{e}");
    assert!(
        e.to_string().starts_with("mlp: the forward pass failed"),
        "{e}"
    );
    assert_eq!(e.to_string().lines().count(), 1);
    assert!(s.root.outputs.is_none());
}
