//! tch models recorded layer by layer (`tchinfo::record`): every row's output shapes, torchinfo's
//! mult-adds and the per-operator count against PyTorch's own numbers for the same models
//! (`tests/fixtures/record/*.json`, written by `models/record_torchinfo.py` with torchinfo 1.8.0 and
//! `FlopCounterMode`), and what is not measured staying unknown in every report.

use serde_json::Value;
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};
use tchinfo::record;
use tchinfo::sources::SourceError;
use tchinfo::summary::{ModelSummary, ModuleNode};

#[allow(dead_code)]
#[path = "../examples/models/mnist_cnn.rs"]
mod mnist_cnn;
#[allow(dead_code)]
#[path = "../examples/models/tiny_lm.rs"]
mod tiny_lm;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/record/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

fn shapes(node: &ModuleNode) -> Vec<Vec<u64>> {
    node.outputs
        .iter()
        .flatten()
        .map(|v| v.shape.clone())
        .collect()
}

/// Every module PyTorch lists is a row here, in the same order, with its class, output shapes,
/// torchinfo's mult-adds (leaves: torchinfo's own row; containers sum leaves) and the operator
/// count of its subtree; and the totals torchinfo prints.
fn check_against_pytorch(summary: &ModelSummary, reference: &Value) {
    let ours: Vec<&ModuleNode> = summary.root.walk().into_iter().map(|(_, n)| n).collect();
    let theirs = reference["modules"].as_array().unwrap();
    let paths = |v: &[&ModuleNode]| v.iter().map(|n| n.path.clone()).collect::<Vec<_>>();
    let their_paths: Vec<String> = theirs
        .iter()
        .map(|m| m["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        paths(&ours),
        their_paths,
        "modules in named_modules() order"
    );
    for (node, m) in ours.iter().zip(theirs) {
        let path = &node.path;
        assert_eq!(node.type_name, m["class"].as_str().unwrap(), "{path}");
        let expected: Vec<Vec<u64>> = serde_json::from_value(m["outputs"].clone()).unwrap();
        assert_eq!(shapes(node), expected, "{path}: output shapes");
        if node.is_leaf() {
            assert_eq!(
                node.mult_adds.unwrap_or(0),
                m["torchinfo_mult_adds"].as_u64().unwrap(),
                "{path}: torchinfo's mult-adds"
            );
        }
        assert_eq!(
            node.subtree_op_mult_adds().unwrap_or(0),
            m["subtree_op_mult_adds"].as_u64().unwrap(),
            "{path}: per-operator mult-adds (FlopCounterMode)"
        );
    }
    let totals = summary.totals();
    let torchinfo = &reference["torchinfo"];
    assert_eq!(totals.mult_adds, torchinfo["total_mult_adds"].as_u64());
    assert_eq!(
        totals.activations.map(|a| a.torchinfo_bytes),
        torchinfo["forward_backward_pass_bytes"].as_u64()
    );
    assert_eq!(
        totals.torchinfo_param_bytes,
        torchinfo["params_bytes"].as_u64()
    );
}

#[test]
fn a_recorded_cnn_matches_torchinfo_row_by_row() {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = mnist_cnn::mnist_cnn(&vs.root());
    let input = Tensor::zeros([1, 1, 28, 28], (Kind::Float, Device::Cpu));
    let s = record::summarize(&vs, "mnist_cnn", &[&input], || model.forward(&input)).unwrap();
    check_against_pytorch(&s, &fixture("mnist_cnn"));
    assert!(
        s.notes.is_empty(),
        "every layer was recorded, no type inferred: {:?}",
        s.notes
    );
}

#[test]
fn a_recorded_transformer_matches_torchinfo_and_the_flop_counter() {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = record::layer(tiny_lm::TinyLm::new(&vs.root(), tiny_lm::CONFIG));
    let ids = Tensor::zeros([2, 32], (Kind::Int64, Device::Cpu));
    let s = record::summarize(&vs, "tiny_lm", &[&ids], || model.forward(&ids)).unwrap();
    check_against_pytorch(&s, &fixture("tiny_lm"));
    // The attention product is the attention module's own code, between its two projections.
    let attn = s.root.find("block.attn").unwrap();
    assert_eq!(attn.op_mult_adds, Some(2 * 4 * 32 * 32 * 16 * 2));
    let roles = s.totals();
    assert!(roles.by_role.iter().any(|r| r.role.name() == "Attention"));
}

#[test]
fn a_model_that_is_not_recorded_shows_unknowns_not_zeros() {
    let vs = nn::VarStore::new(Device::Cpu);
    let net = nn::seq()
        .add(nn::linear(vs.root() / "fc1", 8, 16, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(vs.root() / "fc2", 16, 3, Default::default()));
    let input = Tensor::zeros([2, 8], (Kind::Float, Device::Cpu));
    let s = record::summarize(&vs, "plain", &[&input], || net.forward(&input)).unwrap();
    assert_eq!(shapes(&s.root), vec![vec![2, 3]], "the model's output");
    let t = s.totals();
    assert_eq!(t.activations, None, "no layer's output was seen");
    assert_eq!(t.torchinfo_estimated_total_bytes(), None);
    assert_eq!((t.mult_adds, t.op_mult_adds), (None, None));
    assert!(s.notes.iter().any(|n| n.contains("no layer was recorded")));

    let text = tchinfo::reports::summary::render(&s, &Default::default());
    assert!(text.contains("activations: -- (only the model's overall output was measured"));
    assert!(text.contains("Total mult-adds: --"), "{text}");
    assert!(!text.contains("estimated total"), "{text}");
    for line in text.lines().filter(|l| l.contains("activations")) {
        assert!(!line.contains(" 0 B"), "{line}");
    }

    let json: Value = serde_json::from_str(&tchinfo::reports::json::to_string(
        &tchinfo::reports::json::summary_json(&s),
    ))
    .unwrap();
    assert_eq!(json["memory"]["activations"], Value::Null);
    assert_eq!(json["totals"]["mult_adds"], Value::Null);
    let fc1 = json["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == "fc1")
        .unwrap();
    assert_eq!(fc1["outputs"], Value::Null);
    assert_eq!(fc1["mult_adds"], Value::Null);
    assert_eq!(fc1["calls"], Value::Null);

    let csv = tchinfo::reports::csv::render(&s);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let path = header.iter().position(|h| *h == "path").unwrap();
    let row: Vec<&str> = csv
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|cells| cells[path] == "fc1")
        .unwrap();
    for column in ["output_shapes", "calls", "mult_adds", "op_mult_adds"] {
        let i = header.iter().position(|h| *h == column).unwrap();
        assert_eq!(row[i], "", "{column} is empty, not 0");
    }
}

#[test]
fn a_partly_recorded_model_says_which_layers_are_unknown() {
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let hidden = nn::linear(&root / "hidden", 8, 16, Default::default());
    let net = record::seq()
        .add(nn::func(move |x| hidden.forward(x))) // not recognised: its variables are hidden
        .add(nn::linear(&root / "out", 16, 3, Default::default()));
    let input = Tensor::zeros([2, 8], (Kind::Float, Device::Cpu));
    let s = record::summarize(&vs, "partial", &[&input], || net.forward(&input)).unwrap();
    let hidden = s.root.find("hidden").unwrap();
    assert_eq!((hidden.outputs.as_ref(), hidden.mult_adds), (None, None));
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("1 layer holding variables was not recorded (e.g. hidden)")),
        "{:?}",
        s.notes
    );
    assert_eq!(shapes(s.root.find("out").unwrap()), vec![vec![2, 3]]);
    // A sum over the layers that were seen would pass for the model's: the totals are unknown.
    let t = s.totals();
    assert_eq!(
        (t.mult_adds, t.op_mult_adds, t.activations),
        (None, None, None)
    );
    let text = tchinfo::reports::summary::render(&s, &Default::default());
    assert!(
        text.contains("Total mult-adds: -- (some layers ran unseen; see the notes)"),
        "{text}"
    );
    assert!(
        text.contains("activations: -- (some layers ran unseen"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&tchinfo::reports::json::to_string(
        &tchinfo::reports::json::summary_json(&s),
    ))
    .unwrap();
    let hidden = json["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == "hidden")
        .unwrap();
    assert_eq!(
        (&hidden["calls"], &hidden["outputs"]),
        (&Value::Null, &Value::Null)
    );
    let compare = tchinfo::reports::compare::compare(&[s.clone(), s.clone()]);
    let text = tchinfo::reports::compare::render_text(&compare);
    for line in text
        .lines()
        .filter(|l| l.contains("Mult-adds") || l.contains("Activations"))
    {
        assert!(line.contains("--"), "{line}");
        assert!(!line.contains(" 0 "), "{line}");
    }
}

#[test]
fn tuples_repeated_calls_and_module_t_layers_are_recorded() {
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    // An LSTM returns its output and its (h, c) state: three tensors on one row.
    let lstm = record::layer_at(
        &root / "lstm",
        nn::lstm(&root / "lstm", 4, 6, Default::default()),
    );
    let relu = record::func("ReLU", |x| x.relu());
    let bn = record::layer_t(nn::batch_norm1d(&root / "bn", 6, Default::default()));
    let model = record::layer_t(nn::func_t(move |x, train| {
        use tch::nn::RNN;
        let (out, _state) = lstm.call(|l| l.seq(x));
        let last = relu.forward(&out.select(1, -1));
        relu.forward(&bn.forward_t(&last, train))
    }));
    let input = Tensor::zeros([2, 5, 4], (Kind::Float, Device::Cpu));
    let s = record::summarize(&vs, "lstm", &[&input], || model.forward_t(&input, false)).unwrap();
    let lstm = s.root.find("lstm").unwrap();
    assert_eq!(lstm.type_name, "LSTM");
    assert_eq!(
        shapes(lstm),
        vec![vec![2, 5, 6], vec![1, 2, 6], vec![1, 2, 6]]
    );
    let bn = s.root.find("bn").unwrap();
    assert_eq!(
        (bn.type_name.as_str(), bn.buffers.len()),
        ("BatchNorm1d", 2)
    );
    // The ReLU has no variables: one row (named by its position under the model) for both calls.
    let relu = s
        .root
        .walk()
        .into_iter()
        .map(|(_, n)| n)
        .find(|n| n.type_name == "ReLU")
        .unwrap();
    assert_eq!(relu.calls().count(), 2, "one row, both calls");
    assert!(s.notes.iter().any(|n| n.contains("called more than once")));
}

#[test]
fn a_forward_that_panics_is_an_error_and_recording_stops() {
    let vs = nn::VarStore::new(Device::Cpu);
    let net = record::seq().add(nn::linear(vs.root() / "fc", 8, 3, Default::default()));
    let wrong = Tensor::zeros([2, 5], (Kind::Float, Device::Cpu));
    let e = record::summarize(&vs, "mlp", &[&wrong], || net.forward(&wrong)).unwrap_err();
    assert!(matches!(e, SourceError::Input { .. }), "{e}");
    assert!(
        e.to_string().starts_with("mlp: the forward pass failed"),
        "{e}"
    );
    assert_eq!(e.to_string().lines().count(), 1);
    // The session ended with the panic: the next recording starts clean.
    let input = Tensor::zeros([2, 8], (Kind::Float, Device::Cpu));
    let s = record::summarize(&vs, "mlp", &[&input], || net.forward(&input)).unwrap();
    assert_eq!(s.root.find("fc").unwrap().calls().count(), 1);
}

#[test]
fn recorded_layers_compute_what_the_plain_layers_compute() {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let plain = nn::linear(vs.root() / "fc", 8, 3, Default::default());
    let mut recorded = record::layer(nn::linear(vs.root() / "fc2", 8, 3, Default::default()));
    tch::no_grad(|| recorded.ws.copy_(&plain.ws));
    tch::no_grad(|| {
        recorded
            .bs
            .as_mut()
            .unwrap()
            .copy_(plain.bs.as_ref().unwrap())
    });
    let x = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
    assert!(plain.forward(&x).equal(&recorded.forward(&x)));
}
