//! Saved PyTorch models read without PyTorch: TorchScript archives (`torch.jit.script`/`trace` + `save`)
//! and `torch.save` state dicts, both zip files around a `data.pkl`.
//!
//! The reader never executes anything from the file and never opens the tensor records, so it is safe on
//! untrusted files and costs the same for a 5 MB model as for a 5 GB one:
//! - [`archive`]: the zip central directory and the few small records that describe the model;
//! - [`pickle`]: a bounded symbolic pickle machine for `data.pkl`;
//! - [`tensors`]: tensor rebuild calls read into shape, dtype, requires_grad and storage view;
//! - [`classes`]: `__parameters__`/`__buffers__` and attribute types from the `code/` declarations;
//! - [`walk`]: the TorchScript module tree; [`state_dict`]: a tree from a state dict's dotted names;
//!   [`pickled_module`]: the tree of a whole model pickled with `torch.save(model)`.

pub mod archive;
pub mod budget;
pub mod classes;
pub mod pickle;
pub mod pickled_module;
pub mod state_dict;
pub mod tensors;
pub mod walk;
pub mod zip_directory;

use crate::sources::SourceError;
use crate::summary::{ModelSummary, SourceKind, TensorRecord};
use crate::text::one_line;
use crate::units;
use archive::{Archive, Layout};
use classes::{ClassTable, code_path};
use pickle::Pickle;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Reads a TorchScript file, a `torch.save` state dict or a whole pickled model (told apart by the
/// archive's contents) into a summary with the module tree, parameters, buffers, dtypes and tied
/// tensors; no shapes of outputs.
pub fn read_file(path: &Path) -> Result<ModelSummary, SourceError> {
    let file = crate::sources::open_model_file(path)?;
    read_from(path, BufReader::new(file))
}

/// [`read_file`] on any seekable reader (an in-memory copy, a fuzzer's bytes); `path` names the model in
/// the summary and in errors.
pub fn read_from<R: Read + Seek>(path: &Path, mut reader: R) -> Result<ModelSummary, SourceError> {
    let fail = |problem: String| SourceError::format(path, one_line(&problem));
    let head = sniff(&mut reader).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    let mut archive = match Archive::open(reader) {
        Ok(a) => a,
        Err(problem) => return Err(fail(describe_non_zip(&head).unwrap_or(problem))),
    };
    let bytes = archive.read_pickle().map_err(fail)?;
    let p = Pickle::parse(&bytes).map_err(|e| fail(format!("data.pkl: {e}")))?;
    let name = crate::text::path(path);
    let summary = match archive.layout() {
        Layout::TorchScript => {
            let (classes, mkldnn) = load_classes(&mut archive, &p).map_err(fail)?;
            let walked =
                walk::module_tree(&p, &classes, walk::WalkLimits::default()).map_err(fail)?;
            let mut s = ModelSummary::new(name, SourceKind::TorchScript, walked.root);
            s.notes = walked.notes;
            let constants = read_constants(&mut archive).map_err(fail)?;
            if let Some(note) = place_constants(&mut s, constants) {
                s.notes.push(note);
            }
            if mkldnn {
                s.notes.push(OPTIMIZED_FOR_INFERENCE_NOTE.to_string());
            }
            s.mark_tied(|full| {
                walked
                    .views
                    .get(full)
                    .filter(|v| v.storage.is_some())
                    .cloned()
            });
            s
        }
        Layout::TorchSave if pickled_module::find(&p).is_some() => {
            let (root, at) = pickled_module::find(&p).expect("checked just above");
            let m =
                pickled_module::module_tree(&p, root, walk::WalkLimits::default()).map_err(fail)?;
            let mut s = ModelSummary::new(name, SourceKind::PickledModule, m.root);
            if let Some(key) = at {
                s.notes
                    .push(format!("the model is the checkpoint's entry {key}"));
            }
            s.notes.extend(m.notes);
            s.mark_tied(|full| m.views.get(full).filter(|v| v.storage.is_some()).cloned());
            s
        }
        Layout::TorchSave => {
            let sd = state_dict::state_dict_tree(&p).map_err(fail)?;
            let mut s = ModelSummary::new(name, SourceKind::StateDict, sd.root);
            s.notes = sd.notes;
            s.mark_tied(|full| sd.views.get(full).filter(|v| v.storage.is_some()).cloned());
            s
        }
    };
    Ok(summary)
}

/// What a file written by `torch.jit.optimize_for_inference` is told apart by, and what it means.
pub const OPTIMIZED_FOR_INFERENCE_NOTE: &str = "written by torch.jit.optimize_for_inference: its \
     convolution weights became MKL-DNN constants (prim::ConstantMKLDNNTensor), which torch.jit.save \
     does not store, so they are missing from the totals and libtorch cannot load the file to run it; \
     save the model after torch.jit.freeze instead";

/// The tensors of a `torch.save` state dict (a `pytorch_model.bin` shard), before they become a tree,
/// every name charged to `tree`: for readers that merge several files into one model.
pub fn read_state_dict(
    path: &Path,
    tree: &mut budget::TreeBudget,
) -> Result<state_dict::StateDictTensors, SourceError> {
    let fail = |problem: String| SourceError::format(path, one_line(&problem));
    let file = crate::sources::open_model_file(path)?;
    let mut reader = BufReader::new(file);
    let head = sniff(&mut reader).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    let mut archive = match Archive::open(reader) {
        Ok(a) => a,
        Err(problem) => return Err(fail(describe_non_zip(&head).unwrap_or(problem))),
    };
    if archive.layout() != Layout::TorchSave {
        return Err(fail("a TorchScript file, not a state dict".into()));
    }
    let bytes = archive.read_pickle().map_err(fail)?;
    let p = Pickle::parse(&bytes).map_err(|e| fail(format!("data.pkl: {e}")))?;
    state_dict::state_dict_tensors(&p, tree).map_err(fail)
}

/// Reads the declarations of every class the pickle instantiates; each code file is read once. Also
/// says whether the code uses MKL-DNN constants that were never saved (optimize_for_inference).
fn load_classes<R: Read + Seek>(
    archive: &mut Archive<R>,
    p: &Pickle,
) -> Result<(ClassTable, bool), String> {
    let mut table = ClassTable::default();
    let mut mkldnn = false;
    let wanted = walk::torch_class_names(p);
    for module in walk::python_modules(p) {
        if let Some(source) = archive.read_code(&code_path(&module))? {
            mkldnn |= source.contains("prim.ConstantMKLDNNTensor");
            table
                .add_source(&module, &source, |class| wanted.contains(class))
                .map_err(|e| format!("{}: {e}", code_path(&module)))?;
        }
    }
    Ok((table, mkldnn))
}

/// The tensors of `constants.pkl`, by their position in it (the code's `CONSTANTS.c0`, `c1` …), or
/// why they could not be read: constants this reader cannot read are left out and said so, not made
/// errors, since the model itself was read.
enum Constants {
    Tensors(Vec<(usize, tensors::TensorInfo)>),
    Unreadable(String),
}

fn read_constants<R: Read + Seek>(archive: &mut Archive<R>) -> Result<Constants, String> {
    let Some(bytes) = archive.read_constants()? else {
        return Ok(Constants::Tensors(Vec::new()));
    };
    let p = match Pickle::parse(&bytes) {
        Ok(p) => p,
        Err(e) => return Ok(Constants::Unreadable(e.to_string())),
    };
    let mut found = Vec::new();
    let mut tally = budget::ByteTally::default();
    for (i, value) in p.sequence(&p.root).unwrap_or_default().iter().enumerate() {
        if let Ok(Some(t)) = tensors::tensor(&p, value) {
            if let Err(e) = tally.add(&t) {
                return Ok(Constants::Unreadable(e));
            }
            found.push((i, t));
        }
    }
    Ok(Constants::Tensors(found))
}

fn size_text(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{} B = {}", units::thousands(bytes), units::binary(bytes))
    }
}

/// A frozen module (`torch.jit.freeze`) keeps its weights as constants of its code, not as attributes,
/// and its tree holds no parameter: the floating-point constants are those weights, and become the
/// root's frozen (non-trainable) parameters `c0`, `c1` … as the code names them, so the totals and
/// the memory count them. Constants beside a tree that has parameters (a traced model's literals) are
/// only noted.
fn place_constants(s: &mut ModelSummary, constants: Constants) -> Option<String> {
    let found = match constants {
        Constants::Tensors(found) => found,
        Constants::Unreadable(e) => {
            return Some(format!(
                "constants.pkl could not be read ({e}); tensors it may hold are not counted"
            ));
        }
    };
    if found.is_empty() {
        return None;
    }
    let bytes: u64 = found
        .iter()
        .map(|(_, t)| crate::summary::numel(&t.shape).saturating_mul(t.dtype.bytes()))
        .fold(0, u64::saturating_add);
    let has_parameters = s.root.walk().iter().any(|(_, n)| !n.parameters.is_empty());
    let weights: Vec<&(usize, tensors::TensorInfo)> = found
        .iter()
        .filter(|(_, t)| t.dtype.is_floating_point())
        .collect();
    if has_parameters || weights.is_empty() {
        // Scalars are the literals a trace records (an epsilon, a position): never weights, not news.
        if found
            .iter()
            .all(|(_, t)| crate::summary::numel(&t.shape) <= 1)
        {
            return None;
        }
        let them = match found.len() {
            1 => "1 tensor".to_string(),
            n => format!("{} tensors", units::thousands(n as u64)),
        };
        return Some(format!(
            "constants.pkl holds {them} ({}) that the code uses as constants, outside the module tree \
             (a traced model's literals, or weights torch.jit.freeze kept there): not counted in the totals",
            size_text(bytes)
        ));
    }
    let mut elements = 0u64;
    for (i, t) in &weights {
        let mut record = TensorRecord::new(format!("c{i}"), t.shape.clone(), t.dtype, false);
        record.constant = true;
        elements = elements.saturating_add(record.numel());
        s.root.parameters.push(record);
    }
    let weight_bytes: u64 = s.root.parameters.iter().map(TensorRecord::bytes).sum();
    Some(format!(
        "torch.jit.freeze folded this model's weights into its code: {} constants ({} parameters, {}) \
         are shown as frozen parameters of the root, c0, c1 … as the code names them; the layers that \
         held them (and any BatchNorm folded into a convolution) are gone from the file",
        units::thousands(weights.len() as u64),
        units::thousands(elements),
        size_text(weight_bytes)
    ))
}

/// The first bytes, to name a file that is not a zip archive; the reader is rewound.
fn sniff<R: Read + Seek>(reader: &mut R) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(16);
    reader.by_ref().take(16).read_to_end(&mut head)?;
    reader.seek(SeekFrom::Start(0))?;
    Ok(head)
}

/// `LONG1` (0x8a), 10 bytes, then 0x1950a86a20f9469cfc6c little-endian: the magic number the legacy
/// `torch.save` format pickles first.
const LEGACY_MAGIC: [u8; 12] = [
    0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
];

/// What a file that is not a zip archive probably is, from its first bytes.
fn describe_non_zip(head: &[u8]) -> Option<String> {
    if head.is_empty() {
        return Some("the file is empty".into());
    }
    if head.starts_with(b"PK") {
        return None;
    }
    if head.first() == Some(&0x80) && head.get(1).is_some_and(|&p| p <= 5) {
        // The legacy format starts with its magic number, pickled as LONG1.
        return Some(if head.get(2..14) == Some(&LEGACY_MAGIC[..]) {
            "a legacy torch.save file (PyTorch before 1.6, not a zip archive); re-save it with a current PyTorch"
                .into()
        } else {
            "a Python pickle, not a TorchScript file or torch.save checkpoint".into()
        });
    }
    if head.len() >= 9 && head[8] == b'{' {
        return Some("a safetensors file, not a TorchScript file or torch.save checkpoint".into());
    }
    if head.starts_with(b"GGUF") {
        return Some("a GGUF file, not a TorchScript file or torch.save checkpoint".into());
    }
    if head.starts_with(b"\x89HDF") {
        return Some("an HDF5 file, not a TorchScript file or torch.save checkpoint".into());
    }
    if head.starts_with(b"\x93NUMPY") {
        return Some("a NumPy array file, not a TorchScript file or torch.save checkpoint".into());
    }
    Some("not a TorchScript file or torch.save checkpoint (not a zip archive)".into())
}
