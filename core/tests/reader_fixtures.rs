//! The reader on files PyTorch 2.13 wrote for the cases a plain model does not reach (checkpoints with
//! loose tensors, the dtypes saved through `_rebuild_tensor_v3`, quantized scripted models, a buffer and
//! a parameter sharing storage, a frozen module, legacy files). `fixtures/reader/make_fixtures.py` writes
//! them, and `expected.json` holds what PyTorch itself said about each.

use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use tchinfo_core::dtype::DType;
use tchinfo_core::sources::torchscript::read_file;
use tchinfo_core::summary::{ModelSummary, TensorRecord};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reader")
        .join(name)
}

fn read(name: &str) -> ModelSummary {
    read_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn error(name: &str) -> String {
    match read_file(&fixture(name)) {
        Ok(_) => panic!("{name} was read"),
        Err(e) => e.to_string(),
    }
}

fn expected(name: &str) -> Json {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    let all: Json = serde_json::from_str(&text).unwrap();
    all[name].clone()
}

/// Every tensor by full path: (path, record, is_parameter).
fn tensors(s: &ModelSummary) -> Vec<(String, TensorRecord, bool)> {
    let mut out = Vec::new();
    for (_, n) in s.root.walk() {
        for p in &n.parameters {
            out.push((n.child_path(&p.name), p.clone(), true));
        }
        for b in &n.buffers {
            out.push((n.child_path(&b.name), b.clone(), false));
        }
    }
    out
}

fn names(v: &Json) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

fn has_note(s: &ModelSummary, words: &[&str]) -> bool {
    s.notes.iter().any(|n| words.iter().all(|w| n.contains(w)))
}

#[test]
fn a_checkpoint_with_loose_tensors_shows_its_state_dict() {
    let s = read("checkpoint_loose_tensors.pt");
    let paths: Vec<String> = tensors(&s).into_iter().map(|t| t.0).collect();
    assert_eq!(paths, ["fc.weight", "fc.bias"]);
    assert_eq!(
        s.totals().params,
        expected("checkpoint_loose_tensors.pt")["params"]
            .as_u64()
            .unwrap()
    );
    assert!(
        has_note(&s, &["['state_dict']", "1 tensor beside it"]),
        "{:?}",
        s.notes
    );
}

/// Each tensor's dtype and bytes as PyTorch's `element_size() * numel()` gave them.
fn assert_dtypes_match(s: &ModelSummary, want: &Json, skip: &[&str]) {
    let got = tensors(s);
    let want = want.as_object().unwrap();
    assert_eq!(got.len(), want.len() - skip.len());
    for (path, t, _) in got {
        let w = &want[&path];
        assert_eq!(t.dtype.name(), w["dtype"].as_str().unwrap(), "{path}");
        let numel: u64 = t.shape.iter().product();
        assert_eq!(
            numel * t.dtype.bytes(),
            w["bytes"].as_u64().unwrap(),
            "{path}"
        );
    }
}

#[test]
fn dtypes_saved_with_rebuild_tensor_v3_keep_their_type_and_size() {
    let want = expected("wide_dtypes.pt");
    // `tagged` carries a Python attribute: _rebuild_from_type_v2 around _rebuild_tensor_v3.
    assert_dtypes_match(&read("wide_dtypes.pt"), &want, &[]);
    // The TorchScript writer names the same dtypes by storage class (torch.UInt16Storage …).
    assert_dtypes_match(&read("wide_dtypes_scripted.pt"), &want, &["tagged"]);
}

#[test]
fn an_unknown_dtype_is_refused_not_guessed() {
    let e = error("bits8.pt");
    assert!(e.contains("['packed']: tensor of dtype torch.bits8"), "{e}");
    assert!(e.contains("does not know"), "{e}");
}

#[test]
fn an_unknown_dtype_fails_only_the_dict_chosen() {
    // {'w': tensor, 'extra': {'x': bits8}}: the top level is the state dict; 'extra' is side data.
    let s = read("bits8_beside.pt");
    let paths: Vec<String> = tensors(&s).into_iter().map(|t| t.0).collect();
    assert_eq!(paths, ["w"]);
    // {'w': tensor, 'extra': {'x': bits8, 'y': tensor}}: 'extra' holds more, so it is read, and fails.
    let e = error("bits8_chosen.pt");
    assert!(
        e.contains("['extra']['x']: tensor of dtype torch.bits8"),
        "{e}"
    );
}

fn assert_tensors_match_pytorch(name: &str) -> ModelSummary {
    let s = read(name);
    let want = expected(name);
    let t = tensors(&s);
    let params: Vec<String> = t.iter().filter(|t| t.2).map(|t| t.0.clone()).collect();
    let buffers: Vec<String> = t.iter().filter(|t| !t.2).map(|t| t.0.clone()).collect();
    assert_eq!(params, names(&want["param_names"]), "{name}");
    assert_eq!(buffers, names(&want["buffer_names"]), "{name}");
    let totals = s.totals();
    assert_eq!(totals.params, want["params"].as_u64().unwrap(), "{name}");
    assert_eq!(totals.buffers, want["buffers"].as_u64().unwrap(), "{name}");
    s
}

#[test]
fn custom_class_attributes_are_opaque_not_fatal() {
    let s = assert_tensors_match_pytorch("quantized_dynamic.pt");
    let types: Vec<(String, String)> = s
        .root
        .walk()
        .iter()
        .map(|(_, n)| (n.path.clone(), n.type_name.clone()))
        .collect();
    assert_eq!(
        types[..3],
        [
            ("".to_string(), "Sequential".to_string()),
            ("0".to_string(), "Linear".to_string()),
            (
                "0._packed_params".to_string(),
                "LinearPackedParams".to_string()
            ),
        ]
    );
    assert!(
        has_note(
            &s,
            &[
                "2 attributes are opaque custom-class objects",
                "quantized.LinearPackedParamsBase",
                "0._packed_params._packed_params"
            ]
        ),
        "{:?}",
        s.notes
    );
}

#[test]
fn a_module_saved_with_getstate_is_shown_without_tensors() {
    let s = assert_tensors_match_pytorch("quantized_static.pt");
    assert_eq!(s.root.find("1").unwrap().type_name, "Conv2d");
    assert!(
        has_note(&s, &["module 1 ", "Conv2d", "__getstate__"]),
        "{:?}",
        s.notes
    );
}

#[test]
fn tensors_in_tuples_are_named_by_their_place() {
    let s = read("quantized_dynamic_state_dict.pt");
    let got: Vec<(String, Vec<u64>)> = tensors(&s)
        .into_iter()
        .map(|(path, t, _)| (path, t.shape))
        .collect();
    for (name, shapes) in expected("quantized_dynamic_state_dict.pt")["packed"]
        .as_object()
        .unwrap()
    {
        for (i, shape) in shapes.as_array().unwrap().iter().enumerate() {
            let shape: Vec<u64> = shape
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .collect();
            let path = format!("{name}.{i}");
            assert!(got.contains(&(path.clone(), shape)), "{path}: {got:?}");
        }
    }
    let weight = tensors(&s)
        .into_iter()
        .find(|t| t.0 == "0._packed_params._packed_params.0")
        .unwrap();
    assert_eq!(weight.1.dtype, DType::QInt8);
    // The packed weights and biases are the layers' parameters (the float model's 10×5+10 and
    // 3×10+3), kept with the Linear that owns them; quantized layers cannot be trained, so frozen.
    assert!(weight.2, "a parameter");
    let t = s.totals();
    assert_eq!((t.params, t.trainable), (10 * 5 + 10 + 3 * 10 + 3, 0));
    assert_eq!(s.root.find("0").unwrap().type_name, "Linear");
    assert!(
        has_note(&s, &["does not record requires_grad", "packed weights"]),
        "{:?}",
        s.notes
    );
    assert!(has_note(&s, &["dynamic-quantized layers"]), "{:?}", s.notes);
}

#[test]
fn a_parameter_sharing_a_buffers_storage_still_counts() {
    let s = assert_tensors_match_pytorch("shared_buffer_parameter.pt");
    assert!(tensors(&s).iter().all(|t| t.1.tied_to.is_none()));
}

/// torch.jit.freeze leaves PyTorch's own module with no parameters (`params` 0 in expected.json):
/// the weights are constants of its code. They are counted, as frozen parameters of the root.
#[test]
fn frozen_weights_in_constants_are_frozen_parameters() {
    let s = read("frozen.pt");
    let want = expected("frozen.pt");
    assert_eq!(want["params"].as_u64().unwrap(), 0, "PyTorch counts none");
    let count = want["constant_tensors"].as_u64().unwrap() as usize;
    let bytes = want["constant_bytes"].as_u64().unwrap();
    let t = s.totals();
    assert_eq!(t.param_bytes, bytes);
    assert_eq!(t.params, bytes / 4, "float32 constants");
    assert_eq!((t.trainable, t.non_trainable), (0, t.params));
    assert_eq!(
        (t.frozen_constants, t.frozen_constant_tensors),
        (t.params, count)
    );
    let names: Vec<&str> = s.root.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["c0", "c1"], "named as the code names them");
    assert!(
        has_note(&s, &["torch.jit.freeze", "frozen parameters", "448 B"]),
        "{:?}",
        s.notes
    );
}

#[test]
fn only_a_legacy_file_is_called_one() {
    assert!(error("legacy.pt").contains("a legacy torch.save file (PyTorch before 1.6"));
    let e = error("plain.pkl");
    assert!(e.contains("a Python pickle, not a TorchScript file"), "{e}");
    assert!(!e.contains("legacy"), "{e}");
}

#[test]
fn a_directory_or_fifo_is_named_for_what_it_is() {
    use tchinfo_core::cli::{FileLoader, Loader};
    use tchinfo_core::sources::LoadOptions;
    let load = |p: &Path| match FileLoader.load(p.as_os_str(), &LoadOptions::default()) {
        Ok(_) => panic!("{} was read", p.display()),
        Err(e) => e.to_string(),
    };
    // A folder is read as a model folder, and says what it lacks.
    let dir = fixture("");
    let e = load(&dir);
    assert!(
        e.ends_with(
            "a folder without model weights (no *.safetensors, pytorch_model.bin or *.gguf in it)"
        ),
        "{e}"
    );
    let fifo = std::env::temp_dir().join(format!("tchinfo-fifo-{}", std::process::id()));
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let e = load(&fifo);
    std::fs::remove_file(&fifo).unwrap();
    assert!(
        e.contains("is a FIFO (named pipe), not a model file"),
        "{e}"
    );
    let e = load(Path::new("/dev/null"));
    assert!(e.contains("is a device, not a model file"), "{e}");
    let e = load(&fixture("no-such-file.pt"));
    assert!(e.ends_with("no-such-file.pt: no such file"), "{e}");
}
