//! Measuring TorchScript models through the C++ shim, against what eager PyTorch's forward hooks and
//! torchinfo 1.8 recorded for the same models (`models/reference/*.json`).

mod common;
use common::{TORCHSCRIPT_SAMPLES as SAMPLES, model, reference};
use serde_json::Value as Json;
use std::path::Path;
use tchinfo::dtype::DType;
use tchinfo::sources::SourceError;
use tchinfo::sources::jit_graph::{Fill, InputSpec, Measurement, apply, measure};
use tchinfo::sources::torchscript::read_file;
use tchinfo::summary::{DataEdge, ModelSummary};

fn shape(j: &Json) -> Vec<u64> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect()
}

/// The inputs eager PyTorch ran the model on.
fn reference_inputs(name: &str) -> Vec<InputSpec> {
    reference(name)["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| InputSpec {
            shape: shape(&i["shape"]).into_iter().map(|d| d as i64).collect(),
            dtype: i["dtype"].as_str().unwrap().parse().unwrap(),
        })
        .collect()
}

fn measured(name: &str) -> (ModelSummary, Measurement) {
    let path = model(name);
    let mut summary = read_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let m = measure(&path, &reference_inputs(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    apply(&mut summary, &m);
    (summary, m)
}

fn spec(shape: &[i64], dtype: DType) -> InputSpec {
    InputSpec {
        shape: shape.to_vec(),
        dtype,
    }
}

fn input_error(name: &str, inputs: &[InputSpec]) -> String {
    match measure(&model(name), inputs) {
        Err(e @ SourceError::Input { .. }) => e.to_string(),
        other => panic!("{name} {inputs:?}: expected an input error, got {other:?}"),
    }
}

#[test]
fn output_shapes_equal_the_eager_hooks_on_every_sample() {
    for name in SAMPLES {
        let (summary, _) = measured(name);
        for module in reference(name)["modules"].as_array().unwrap() {
            let path = module["path"].as_str().unwrap();
            let node = summary
                .root
                .find(path)
                .unwrap_or_else(|| panic!("{name}: no module {path:?}"));
            let ours: Option<Vec<Vec<u64>>> = node
                .outputs
                .as_ref()
                .map(|o| o.iter().map(|t| t.shape.clone()).collect());
            let eager: Option<Vec<Vec<u64>>> = module["output_shapes"]
                .as_array()
                .map(|shapes| shapes.iter().map(shape).collect());
            assert_eq!(ours, eager, "{name}: output shapes of {path:?}");
            // A module called again (a shared ReLU) keeps every later call's outputs, in order.
            let ours: Vec<Vec<Vec<u64>>> = node
                .repeat_outputs
                .iter()
                .map(|call| call.iter().map(|t| t.shape.clone()).collect())
                .collect();
            let eager: Vec<Vec<Vec<u64>>> =
                module["repeat_output_shapes"]
                    .as_array()
                    .map_or_else(Vec::new, |calls| {
                        calls
                            .iter()
                            .map(|c| c.as_array().unwrap().iter().map(shape).collect())
                            .collect()
                    });
            assert_eq!(ours, eager, "{name}: later calls of {path:?}");
        }
    }
}

/// bias_before_bn calls its one `relu` three times: every call's output is an activation, and the
/// samples do include modules called more than once (or the test above would prove nothing).
#[test]
fn every_call_of_a_shared_module_is_counted() {
    let (summary, _) = measured("bias_before_bn");
    let relu = summary.root.find("relu").unwrap();
    assert_eq!(relu.repeat_outputs.len(), 2);
    let act = summary.totals().activations.unwrap();
    // conv1, bn1, conv2, bn2: 8×32×32; conv3: 16×32×32; relu: 8, 8 and 16 channels; pool 16; fc 10.
    let elements = 4 * 8 * 1024 + 16 * 1024 + (8 + 8 + 16) * 1024 + 16 + 10;
    assert_eq!(act.leaf_output_bytes, 4 * elements);
}

/// torchinfo's "Forward/backward pass size" and "Params size": leaf layers with parameters (a weight
/// tied to another layer's included) and the leaf layers that ran; the estimated total adds the input.
#[test]
fn torchinfo_memory_totals_equal_torchinfo() {
    for name in SAMPLES {
        let (summary, _) = measured(name);
        let r = reference(name);
        let totals = summary.totals();
        let act = totals.activations.unwrap();
        let fb = r["torchinfo_forward_backward_bytes"].as_u64().unwrap();
        let params = r["torchinfo_params_bytes"].as_u64().unwrap();
        assert_eq!(act.torchinfo_bytes, fb, "{name}: forward/backward");
        assert_eq!(
            totals.torchinfo_param_bytes,
            Some(params),
            "{name}: params size"
        );
        assert_eq!(
            totals.torchinfo_estimated_total_bytes(),
            Some(totals.input_bytes + params + fb),
            "{name}: estimated total"
        );
    }
}

#[test]
fn outputs_keep_the_models_dtype() {
    let (half, _) = measured("half_mlp");
    assert!(
        half.root
            .walk()
            .iter()
            .filter_map(|(_, n)| n.outputs.as_ref())
            .flatten()
            .all(|t| t.dtype == DType::Float16)
    );
    let (tokens, m) = measured("tiny_transformer");
    assert_eq!(m.inputs[0].dtype, DType::Int64);
    assert_eq!(
        tokens.root.find("embed").unwrap().outputs.as_ref().unwrap()[0].dtype,
        DType::Float32
    );
}

/// torchinfo sums only leaf layers and charges a tied weight again in every layer that uses it; so do
/// we, on every sample (tied embeddings and MultiheadAttention included).
#[test]
fn torchinfo_style_totals_equal_torchinfo() {
    for name in SAMPLES {
        let (summary, _) = measured(name);
        let expected = reference(name)["torchinfo_total_mult_adds"]
            .as_u64()
            .unwrap();
        assert_eq!(summary.root.subtree_mult_adds(), Some(expected), "{name}");
    }
}

#[test]
fn operator_mult_adds_count_convolutions_and_matrix_products() {
    let (vgg, _) = measured("vgg_tiny");
    let ops = |path: &str| vgg.root.find(path).unwrap().op_mult_adds;
    // Output elements × input channels × kernel positions; Linear: outputs × in_features.
    assert_eq!(ops("features.0"), Some(8 * 32 * 32 * 3 * 9));
    assert_eq!(ops("features.3"), Some(16 * 16 * 16 * 8 * 9));
    assert_eq!(ops("classifier.fc6"), Some(64 * 64));
    assert_eq!(ops("classifier.fc8"), Some(10 * 64));
    assert_eq!(ops("features.1"), Some(0), "a ReLU multiplies nothing");
    assert_eq!(
        vgg.root.subtree_op_mult_adds(),
        Some(221_184 + 294_912 + 4_096 + 4_096 + 640)
    );
}

#[test]
fn attention_matmuls_are_counted() {
    let (summary, _) = measured("tiny_transformer");
    let (l, e, ff, vocab) = (8u64, 32u64, 128u64, 100u64);
    // Three input projections and the output projection (L·E·E each), scores and weighted values (L·L·E each).
    let attention = 4 * l * e * e + 2 * l * l * e;
    assert_eq!(
        summary.root.find("attn").unwrap().op_mult_adds,
        Some(attention)
    );
    let total = attention + l * e * ff + l * ff * e + l * e * vocab;
    assert_eq!(summary.root.subtree_op_mult_adds(), Some(total));
}

#[test]
fn dataflow_shows_convolutions_feeding_batchnorm() {
    let (_, m) = measured("bias_before_bn");
    let edge = |from: &str, to: &str| DataEdge {
        from: from.into(),
        to: to.into(),
        only_consumer: true,
    };
    for expected in [
        edge("conv1", "bn1"),
        edge("conv2", "bn2"),
        edge("conv3", "relu"),
    ] {
        assert!(m.edges.contains(&expected), "{expected:?} in {:?}", m.edges);
    }
    for name in ["resnet_tiny_scripted", "resnet_tiny_traced"] {
        let (_, m) = measured(name);
        assert!(
            m.edges
                .contains(&edge("layer2.0.downsample.0", "layer2.0.downsample.1")),
            "{name}"
        );
        // The block's input feeds both its first convolution and the residual addition.
        let into_block = m
            .edges
            .iter()
            .find(|e| e.from == "layer1" && e.to == "layer2.0.conv1")
            .unwrap();
        assert!(!into_block.only_consumer, "{name}");
    }
}

#[test]
fn two_inputs_are_passed_in_order() {
    let (summary, m) = measured("two_inputs");
    assert_eq!(m.forward_schema, "forward(Tensor x, Tensor y) -> Tensor");
    assert_eq!(summary.inputs.len(), 2);
    assert_eq!(
        summary
            .root
            .find("right")
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()[0]
            .shape,
        vec![1, 8]
    );
}

#[test]
fn wrong_inputs_give_one_line_naming_what_forward_expects() {
    let f32 = DType::Float32;
    let cases = [
        (
            "two_inputs",
            vec![spec(&[1, 16], f32)],
            "forward takes 2 inputs but 1 was given",
        ),
        (
            "vgg_tiny",
            vec![spec(&[1, 3, 32, 32], f32), spec(&[1, 3], f32)],
            "forward takes 1 input but 2 were given",
        ),
        (
            "vgg_tiny",
            vec![spec(&[1, 3, 32], f32)],
            "forward failed in features.0 on float32 [1, 3, 32]",
        ),
        (
            "vgg_tiny",
            vec![spec(&[1, 3, 2, 2], f32)],
            "Output size is too small",
        ),
        (
            "resnet_tiny_traced",
            vec![spec(&[1, 4, 32, 32], f32)],
            "to have 3 channels, but got 4 channels",
        ),
        (
            "tiny_transformer",
            vec![spec(&[1, 8], f32)],
            "forward failed in embed on float32 [1, 8]",
        ),
        (
            "tiny_transformer",
            vec![spec(&[1, 9], DType::Int64)],
            "must match the size of tensor b (8)",
        ),
    ];
    for (name, inputs, needle) in cases {
        let message = input_error(name, &inputs);
        assert!(message.contains(needle), "{name}: {message}");
        assert!(
            message.contains("forward(Tensor "),
            "names the schema: {message}"
        );
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}

/// An input libtorch cannot make (a quantized dtype cannot be filled) fits forward's signature; the
/// error says what failed, without the schema the signature errors add.
#[test]
fn inputs_libtorch_cannot_make_are_their_own_error() {
    let message = input_error("vgg_tiny", &[spec(&[1, 3, 32, 32], DType::QInt8)]);
    assert!(
        message.contains("vgg_tiny.pt: input 1 qint8 [1, 3, 32, 32]: libtorch cannot make it: "),
        "{message}"
    );
    assert!(!message.contains("it expects"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[test]
fn unusable_sizes_are_refused_before_running() {
    let message = input_error("vgg_tiny", &[spec(&[1, 3, 0, 32], DType::Float32)]);
    assert!(
        message.contains("every size must be at least 1"),
        "{message}"
    );
}

#[test]
fn files_libtorch_cannot_load_give_a_format_error() {
    let inputs = [spec(&[1, 3, 32, 32], DType::Float32)];
    match measure(&model("state_dict"), &inputs) {
        Err(e @ SourceError::Format { .. }) => {
            assert!(
                e.to_string().contains("cannot load it as TorchScript"),
                "{e}"
            );
            assert_eq!(e.to_string().lines().count(), 1);
        }
        other => panic!("a state dict is not TorchScript: {other:?}"),
    }
    let dir = std::env::temp_dir().join(format!("tchinfo-jit-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = std::fs::read(model("vgg_tiny")).unwrap();
    let truncated = dir.join("truncated.pt");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let result = measure(&truncated, &inputs);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        matches!(result, Err(SourceError::Format { .. })),
        "{result:?}"
    );
    assert!(matches!(
        measure(Path::new("models/no_such_file.pt"), &inputs),
        Err(SourceError::Io { .. })
    ));
    // odd_keys.pt's ModuleDict key holds a line break, which libtorch's code parser refuses: the one
    // line says where in the archive's code it stopped.
    let e = measure(&model("odd_keys"), &[spec(&[1, 4], DType::Float32)]).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("found '\"' at code/"), "{text}");
    assert!(text.ends_with(".py, line 6"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// `tests/fixtures/shim/recurrent.pt` (written by export.py beside it): LSTM, a bidirectional 2-layer
/// GRU and a TransformerEncoderLayer, scripted; the JSON holds eager PyTorch's hook shapes.
#[test]
fn recurrent_and_transformer_layers_are_measured_like_eager() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shim");
    let path = dir.join("recurrent.pt");
    let eager: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("recurrent.json")).unwrap())
            .unwrap();
    let mut summary = read_file(&path).unwrap();
    let m = measure(&path, &[spec(&[2, 5], DType::Int64)]).unwrap();
    apply(&mut summary, &m);
    // The encoder's submodules too: PyTorch's fused inference path would have hidden them.
    assert_eq!(differences_from_eager(&summary, &eager), vec![]);
    let ops = |path: &str| summary.root.find(path).unwrap().subtree_op_mult_adds();
    let positions = 2 * 5;
    // Every weight matrix at every position: LSTM 4·16×8 + 4·16×16; GRU 2 directions × (3·16×16 + 3·16×16)
    // in layer 1 and × (3·16×32 + 3·16×16) in layer 2.
    assert_eq!(ops("lstm"), Some(positions * (64 * 8 + 64 * 16)));
    assert_eq!(
        ops("gru"),
        Some(positions * 2 * ((48 * 16 + 48 * 16) + (48 * 32 + 48 * 16)))
    );
    let (e, ff) = (32, 48);
    let attention = 4 * positions * e * e + 2 * (2 * 5 * 5 * e);
    assert_eq!(ops("encoder.self_attn"), Some(attention));
    assert_eq!(ops("encoder"), Some(attention + 2 * positions * e * ff));
    let lstm_to_gru = DataEdge {
        from: "lstm".into(),
        to: "gru".into(),
        only_consumer: true,
    };
    assert!(
        m.edges.contains(&lstm_to_gru),
        "a tuple output still feeds the next module: {:?}",
        m.edges
    );
}

/// `tests/fixtures/shim/packed.pt` (export.py): LSTM(8, 16), bidirectional GRU(16, 16) and RNN(32, 8)
/// on a PackedSequence of 6 + 4 + 2 = 12 steps, which libtorch runs through the `.data` overloads
/// (`data, batch_sizes, hx, params, …`): the weights are the fourth argument there, not the third.
#[test]
fn packed_sequences_count_every_weight_at_every_packed_step() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shim/packed.pt");
    let mut summary = read_file(&path).unwrap();
    let m = measure(&path, &[spec(&[6, 3, 8], DType::Float32)]).unwrap();
    apply(&mut summary, &m);
    let ops = |path: &str| summary.root.find(path).unwrap().subtree_op_mult_adds();
    let steps = 6 + 4 + 2;
    assert_eq!(ops("lstm"), Some(steps * (64 * 8 + 64 * 16)));
    assert_eq!(ops("gru"), Some(2 * steps * (48 * 16 + 48 * 16)));
    assert_eq!(ops("rnn"), Some(steps * (8 * 32 + 8 * 8)));
    let lstm = summary.root.find("lstm").unwrap();
    assert_eq!(lstm.outputs.as_ref().unwrap()[0].shape, vec![12, 16]);
}

/// `tests/fixtures/shim/warns.pt` (export.py): forward calls `warnings.warn` with a two-line message.
/// libtorch's default handler would print it to stderr with its C++ source; it is collected and
/// becomes one note, and stderr stays empty on success.
#[test]
fn libtorch_warnings_become_one_line_notes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shim/warns.pt");
    let m = measure(&path, &[spec(&[1, 4], DType::Float32)]).unwrap();
    assert_eq!(m.warnings, vec!["this model warns on two lines"]);
    let out = common::tchinfo(&[path.to_str().unwrap(), "--input-size", "1,4"]);
    assert!(out.status.success());
    assert!(common::is_sandbox_notice(&common::stderr(&out)));
    assert_eq!(
        common::stderr_after_notice(&out),
        "",
        "nothing leaks to stderr"
    );
    assert!(
        common::stdout(&out).contains(
            "Note: libtorch warned while loading or running the model: this model warns on two lines\n"
        ),
        "{}",
        common::stdout(&out)
    );
}

/// `tests/fixtures/shim/warns_many.pt` (export.py): twelve distinct warnings. The first ten become
/// notes, the other two one note that counts them, so a model that warns in a loop of distinct
/// messages cannot flood the summary.
#[test]
fn warnings_beyond_ten_are_counted_not_shown() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shim/warns_many.pt");
    let m = measure(&path, &[spec(&[1, 4], DType::Float32)]).unwrap();
    let first_ten: Vec<String> = (1..=10).map(|i| format!("warning {i}")).collect();
    assert_eq!(m.warnings, first_ten);
    assert_eq!(m.more_warnings, 2);
    let out = common::tchinfo(&[path.to_str().unwrap(), "--input-size", "1,4"]);
    assert!(out.status.success());
    assert_eq!(
        common::stderr_after_notice(&out),
        "",
        "nothing leaks to stderr"
    );
    let stdout = common::stdout(&out);
    assert!(stdout.contains("model: warning 10\n"), "{stdout}");
    assert!(!stdout.contains("warning 11"), "{stdout}");
    assert!(
        stdout.contains("Note: libtorch gave 2 more distinct warnings, not shown\n"),
        "{stdout}"
    );
}

/// Large tensors are not read from the file (shapes do not need their values); small ones are, as
/// code may compute shapes from them. The fixture repeats its input `repeats` (a small buffer holding
/// 3) times, plus once more if its 64 KiB buffer of ones sums above zero: eagerly (4, 4).
#[test]
fn large_tensors_hold_zeros_and_small_ones_are_read() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shim/value_dependent.pt");
    let m = measure(&path, &[spec(&[1, 4], DType::Float32)]).unwrap();
    let root = m.modules.iter().find(|mm| mm.path.is_empty()).unwrap();
    assert_eq!(root.outputs[0].shape, vec![3, 4]);
}

/// Output shapes of every module of `summary` that differ from eager PyTorch's hooks in the fixture
/// JSON `eager`: (path, ours, eager's).
type ShapeDiff = (String, Option<Vec<Vec<u64>>>, Option<Vec<Vec<u64>>>);
fn differences_from_eager(summary: &ModelSummary, eager: &Json) -> Vec<ShapeDiff> {
    let mut diffs = Vec::new();
    for module in eager["modules"].as_array().unwrap() {
        let path = module["path"].as_str().unwrap();
        let node = summary
            .root
            .find(path)
            .unwrap_or_else(|| panic!("no module {path:?}"));
        let ours: Option<Vec<Vec<u64>>> = node
            .outputs
            .as_ref()
            .map(|o| o.iter().map(|t| t.shape.clone()).collect());
        let theirs: Option<Vec<Vec<u64>>> = module["output_shapes"]
            .as_array()
            .map(|s| s.iter().map(shape).collect());
        if ours != theirs {
            diffs.push((path.to_string(), ours, theirs));
        }
    }
    diffs
}

/// `tests/fixtures/shim/pass_through_{scripted,traced}.pt` (export.py): modules that return their
/// input unchanged — nn.Identity, a user `return x`, a drop-path that is the identity in eval, a
/// Sequential holding an Identity. Scripted, each returns the value itself. Traced, the call keeps
/// neither the value nor an operator, so its output is the one tensor shape waiting across the call;
/// `side` runs while tensors of two shapes wait (it feeds torch.cat beside a wider Linear), so its
/// shape is not known and stays empty rather than guessed.
#[test]
fn modules_returning_their_input_show_its_shape_scripted_and_traced() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shim");
    let eager: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("pass_through.json")).unwrap())
            .unwrap();
    let measured = |file: &str| {
        let path = dir.join(file);
        let mut summary = read_file(&path).unwrap();
        let m = measure(&path, &[spec(&[1, 4], DType::Float32)]).unwrap();
        apply(&mut summary, &m);
        (summary, m)
    };
    let (scripted, _) = measured("pass_through_scripted.pt");
    assert_eq!(differences_from_eager(&scripted, &eager), vec![]);
    let (traced, m) = measured("pass_through_traced.pt");
    assert_eq!(
        differences_from_eager(&traced, &eager),
        vec![("side".to_string(), None, Some(vec![vec![1, 8]]))]
    );
    // JSON `calls` counts the calls whose outputs are known (docs/json-schema.md): eager called `side`
    // once, and so does the scripted run, but the traced call's output is not attributed.
    let calls = |s: &ModelSummary, path: &str| s.root.find(path).unwrap().calls().count();
    assert_eq!(calls(&scripted, "side"), 1);
    assert_eq!(calls(&traced, "side"), 0);
    assert_eq!(calls(&traced, "identity"), 1);
    // Which tensor a traced pass-through module received is not known, so it has no data-flow edge.
    let passing = [
        "identity",
        "keep",
        "block.drop_path",
        "empty",
        "empty.0",
        "side",
    ];
    assert!(
        m.edges
            .iter()
            .all(|e| !passing.contains(&e.from.as_str()) && !passing.contains(&e.to.as_str())),
        "{:?}",
        m.edges
    );
}

/// `tests/fixtures/shim/unused_returns_{scripted,traced}.pt` (export.py): the model keeps only part of
/// what its LSTMs and GRU return (`y, _ = self.lstm(x)`; `_, (h, _) = self.state(y)`). A trace drops the
/// rest from their returns; the unused results of the operator that made the kept ones stand in for it,
/// so both files show every returned tensor, in order, as eager PyTorch's hooks do — but not the indices
/// beside adaptive max pooling's values, which `pool` never returned.
#[test]
fn returned_tensors_the_caller_ignores_are_outputs_scripted_and_traced() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shim");
    let eager: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("unused_returns.json")).unwrap())
            .unwrap();
    for file in ["unused_returns_scripted.pt", "unused_returns_traced.pt"] {
        let path = dir.join(file);
        let mut summary = read_file(&path).unwrap();
        let m = measure(&path, &[spec(&[2, 7, 4], DType::Float32)]).unwrap();
        apply(&mut summary, &m);
        assert_eq!(differences_from_eager(&summary, &eager), vec![], "{file}");
        let mut edges: Vec<(&str, &str)> = m
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect();
        edges.sort();
        assert_eq!(
            edges,
            [("gru", "state"), ("lstm", "gru"), ("state", "pool")],
            "{file}"
        );
    }
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/shim")
        .join(name)
}

fn measured_fixture(name: &str, inputs: &[InputSpec]) -> (ModelSummary, Measurement) {
    let path = fixture(name);
    let mut summary = read_file(&path).unwrap();
    let m = measure(&path, inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
    apply(&mut summary, &m);
    (summary, m)
}

/// Dynamically quantized Linear and LSTM (quantized::linear_dynamic, aten::quantized_lstm) and
/// statically quantized Conv2d and Linear (quantized::conv2d and quantized::linear, whose packed
/// weights the shim unpacks) count as their float twins would.
#[test]
fn quantized_layers_are_counted() {
    let (s, m) = measured_fixture("quantized_dynamic.pt", &[spec(&[2, 5, 8], DType::Float32)]);
    let ops = |s: &ModelSummary, path: &str| s.root.find(path).unwrap().subtree_op_mult_adds();
    // 10 positions: Linear(8, 16), LSTM(16, 12) (4 gates × 12 × (16 + 12)), Linear(12, 4).
    assert_eq!(ops(&s, "fc"), Some(10 * 16 * 8));
    assert_eq!(ops(&s, "lstm"), Some(10 * 4 * 12 * (16 + 12)));
    assert_eq!(ops(&s, "out"), Some(10 * 4 * 12));
    assert!(m.uncounted.is_empty(), "{:?}", m.uncounted);
    let (s, m) = measured_fixture(
        "quantized_static.pt",
        &[spec(&[1, 3, 8, 8], DType::Float32)],
    );
    assert_eq!(ops(&s, "conv"), Some(8 * 6 * 6 * 3 * 9));
    assert_eq!(ops(&s, "fc"), Some(10 * 8 * 6 * 6));
    assert!(m.uncounted.is_empty(), "{:?}", m.uncounted);
}

/// tensordot (three times, in a loop) and an FFT multiply, but no formula counts them: a note says
/// which operators, how often, and where.
#[test]
fn work_that_is_not_counted_is_listed_with_its_runs() {
    let (s, m) = measured_fixture("uncounted.pt", &[spec(&[2, 4], DType::Float32)]);
    let runs: Vec<(&str, u64, Vec<String>)> = m
        .uncounted
        .iter()
        .map(|u| (u.op.as_str(), u.runs, u.paths.clone()))
        .collect();
    assert_eq!(
        runs,
        [
            ("aten::fft_rfft", 1, vec!["spectral".to_string()]),
            ("aten::tensordot", 3, vec!["mix".to_string()]),
        ]
    );
    let note = s
        .notes
        .iter()
        .find(|n| n.contains("not in the mult-adds"))
        .unwrap();
    assert!(
        note.ends_with("aten::fft_rfft ×1 (in spectral), aten::tensordot ×3 (in mix)"),
        "{note}"
    );
    // The Linear after them is counted: 2 × 2 outputs of 3 products.
    assert_eq!(s.root.subtree_op_mult_adds(), Some(12));
}

/// Boolean indexing, nonzero and unique make outputs whose size depends on values: the note names
/// the modules.
#[test]
fn value_dependent_shapes_name_their_modules() {
    let (s, m) = measured_fixture("data_dependent.pt", &[spec(&[2, 4], DType::Float32)]);
    let mut found = m.value_dependent.clone();
    found.sort();
    assert_eq!(
        found,
        [
            ("distinct".to_string(), "aten::_unique2".to_string()),
            ("positions".to_string(), "aten::nonzero".to_string()),
            ("select".to_string(), "aten::index".to_string()),
        ]
    );
    let note = s
        .notes
        .iter()
        .find(|n| n.starts_with("output sizes here depend on tensor values"))
        .unwrap();
    for part in [
        "boolean indexing in select",
        "nonzero in positions",
        "_unique2 in distinct",
    ] {
        assert!(note.contains(part), "{note}");
    }
    // Shape-only models say nothing of the kind, and neither does an index by integer positions
    // (Mixtral's routing gathers tokens that way).
    let (vgg, _) = measured("vgg_tiny");
    assert!(
        !vgg.notes
            .iter()
            .any(|n| n.contains("depend on tensor values"))
    );
}

/// Integer inputs an Embedding reads get token ids in its range, an integer mask and a boolean get
/// ones; the note says so.
#[test]
fn integer_inputs_get_valid_values() {
    let int = |d: DType| spec(&[2, 5], d);
    let (s, m) = measured_fixture(
        "token_inputs.pt",
        &[
            int(DType::Int64),
            int(DType::Int64),
            int(DType::Int32),
            int(DType::Bool),
        ],
    );
    assert_eq!(
        m.fills,
        vec![
            (
                1,
                Fill::Ids {
                    rows: 50,
                    embedding: "embed".into()
                }
            ),
            (2, Fill::Ones),
            (
                3,
                Fill::Ids {
                    rows: 3,
                    embedding: "types".into()
                }
            ),
            (4, Fill::Ones),
        ]
    );
    assert!(
        s.notes.iter().any(|n| n
            .contains("input 3 (int32) held token ids 1 to 2 in turn, in range of types (3 rows)")),
        "{:?}",
        s.notes
    );
}

/// A forward taking a list or a dict of tensors cannot get one tensor per --input-size: said with the
/// argument's name and type.
#[test]
fn list_and_dict_arguments_are_named() {
    for (file, kind) in [
        ("list_input.pt", "'xs' is List[Tensor]"),
        ("dict_input.pt", "'inputs' is Dict[str, Tensor]"),
    ] {
        match measure(&fixture(file), &[spec(&[2, 3], DType::Float32)]) {
            Err(e @ SourceError::Input { .. }) => {
                let text = e.to_string();
                assert!(text.contains(kind), "{text}");
                assert!(text.contains("a forward taking a list, dict or tuple cannot be run"));
                assert_eq!(text.lines().count(), 1);
            }
            other => panic!("{file}: {other:?}"),
        }
    }
}

/// torch.jit.freeze folded ResNetTiny's weights into constants (BatchNorm into the convolutions):
/// they are the root's frozen parameters, and the forward pass counts as eager PyTorch does.
#[test]
fn a_frozen_model_counts_its_constants_and_its_operators() {
    let (s, _) = measured("resnet_tiny_frozen");
    let r = reference("resnet_tiny_frozen");
    let t = s.totals();
    assert_eq!(t.params, r["frozen_constant_params"].as_u64().unwrap());
    assert_eq!(
        t.frozen_constant_tensors as u64,
        r["frozen_constant_tensors"].as_u64().unwrap()
    );
    assert_eq!(t.trainable, 0);
    assert_eq!(
        s.root.subtree_op_mult_adds(),
        r["op_mult_adds"].as_u64(),
        "FlopCounterMode ÷ 2 on the eager model"
    );
    let out = common::run_ok(&[
        model("resnet_tiny_frozen").to_str().unwrap(),
        "--input-size",
        "1,3,32,32",
    ]);
    assert!(
        out.contains("Frozen constants: 5,146 in 10 tensors (torch.jit.freeze"),
        "{out}"
    );
    assert!(
        out.contains("5,146 frozen)"),
        "memory says they are frozen:\n{out}"
    );
}

/// torch.jit.optimize_for_inference keeps convolution weights in MKL-DNN constants torch.jit.save does
/// not store: the structure says so, and a forward pass is refused with that reason rather than
/// libtorch's "required keyword attribute 'value' is undefined".
#[test]
fn an_optimize_for_inference_file_is_explained() {
    let path = model("resnet_tiny_optimized");
    let s = read_file(&path).unwrap();
    assert!(
        s.notes
            .iter()
            .any(|n| n.starts_with("written by torch.jit.optimize_for_inference")),
        "{:?}",
        s.notes
    );
    let out = common::tchinfo(&[path.to_str().unwrap(), "--input-size", "1,3,32,32"]);
    common::assert_clean_error(
        &out,
        1,
        "resnet_tiny_optimized.pt: cannot run it: written by torch.jit.optimize_for_inference",
    );
    assert!(!common::stderr(&out).contains("keyword attribute"));
}
