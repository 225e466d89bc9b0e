//! Saved PyTorch models read without PyTorch: TorchScript archives (`torch.jit.script`/`trace` + `save`)
//! and `torch.save` state dicts, both zip files around a `data.pkl`.
//!
//! The reader never executes anything from the file and never opens the tensor records, so it is safe on
//! untrusted files and costs the same for a 5 MB model as for a 5 GB one:
//! - [`archive`]: the zip central directory and the few small records that describe the model;
//! - [`pickle`]: a bounded symbolic pickle machine for `data.pkl`;
//! - [`tensors`]: tensor rebuild calls read into shape, dtype, requires_grad and storage view;
//! - [`classes`]: `__parameters__`/`__buffers__` and attribute types from the `code/` declarations;
//! - [`walk`]: the TorchScript module tree; [`state_dict`]: a tree from a state dict's dotted names.

pub mod archive;
pub mod budget;
pub mod classes;
pub mod pickle;
pub mod state_dict;
pub mod tensors;
pub mod walk;

use crate::sources::SourceError;
use crate::summary::{ModelSummary, SourceKind};
use crate::units;
use archive::{Archive, Layout};
use classes::{ClassTable, code_path};
use pickle::Pickle;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Reads a TorchScript file or a `torch.save` state dict (told apart by the archive's contents) into a
/// summary with the module tree, parameters, buffers, dtypes and tied tensors; no shapes of outputs.
pub fn read_file(path: &Path) -> Result<ModelSummary, SourceError> {
    let file = File::open(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
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
    let name = path.display().to_string();
    let summary = match archive.layout() {
        Layout::TorchScript => {
            let classes = load_classes(&mut archive, &p).map_err(fail)?;
            let walked =
                walk::module_tree(&p, &classes, walk::WalkLimits::default()).map_err(fail)?;
            let mut s = ModelSummary::new(name, SourceKind::TorchScript, walked.root);
            s.notes = walked.notes;
            if let Some(note) = constants_note(&mut archive).map_err(fail)? {
                s.notes.push(note);
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

/// Reads the declarations of every class the pickle instantiates; each code file is read once.
fn load_classes<R: Read + Seek>(
    archive: &mut Archive<R>,
    p: &Pickle,
) -> Result<ClassTable, String> {
    let mut table = ClassTable::default();
    let wanted = walk::torch_class_names(p);
    for module in walk::python_modules(p) {
        if let Some(source) = archive.read_code(&code_path(&module))? {
            table
                .add_source(&module, &source, |class| wanted.contains(class))
                .map_err(|e| format!("{}: {e}", code_path(&module)))?;
        }
    }
    Ok(table)
}

/// A note when `constants.pkl` holds tensors: a frozen module (`torch.jit.freeze`) keeps its weights
/// there, not in attributes, so its tree counts no parameters and the totals alone would mislead.
/// Constants this reader cannot read are left out of the count and said so in the note, not made
/// errors: the model itself was read.
fn constants_note<R: Read + Seek>(archive: &mut Archive<R>) -> Result<Option<String>, String> {
    let Some(bytes) = archive.read_constants()? else {
        return Ok(None);
    };
    let unreadable = |e: &dyn std::fmt::Display| {
        Ok(Some(format!(
            "constants.pkl could not be read ({e}); tensors it may hold are not counted"
        )))
    };
    let p = match Pickle::parse(&bytes) {
        Ok(p) => p,
        Err(e) => return unreadable(&e),
    };
    let mut count: u64 = 0;
    let mut tally = budget::ByteTally::default();
    for value in p.sequence(&p.root).unwrap_or_default() {
        if let Ok(Some(t)) = tensors::tensor(&p, value) {
            if let Err(e) = tally.add(&t) {
                return unreadable(&e);
            }
            count += 1;
        }
    }
    if count == 0 {
        return Ok(None);
    }
    let bytes = tally.total();
    let size = if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{} B = {}", units::thousands(bytes), units::binary(bytes))
    };
    let (them, are) = match count {
        1 => ("1 tensor".to_string(), "it is"),
        n => (format!("{} tensors", units::thousands(n)), "they are"),
    };
    Ok(Some(format!(
        "constants.pkl holds {them} ({size}) outside the module tree (torch.jit.freeze moves weights there): {are} not counted in the totals"
    )))
}

/// Problems quote names from the file, which may hold newlines, control characters or a megabyte of
/// text: the error stays one readable line. A long one keeps its start (what) and its end (why).
pub(crate) fn one_line(problem: &str) -> String {
    const KEEP: usize = 250;
    let chars = problem.chars().count();
    if chars <= 2 * KEEP {
        return escape_controls(problem);
    }
    let at = |n: usize| problem.char_indices().nth(n).map_or(0, |(i, _)| i);
    format!(
        "{} … {}",
        escape_controls(&problem[..at(KEEP)]),
        escape_controls(&problem[at(chars - KEEP)..])
    )
}

fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_stay_one_readable_line() {
        assert_eq!(one_line("module a\nb: bad"), "module a\\nb: bad");
        let long = format!("class __torch__.{}: no declaration", "m".repeat(100_000));
        let line = one_line(&long);
        assert!(line.starts_with("class __torch__.mmm"), "{line}");
        assert!(line.ends_with("mmm: no declaration"), "{line}");
        assert!(line.chars().count() < 510, "{}", line.len());
        assert_eq!(one_line("é\u{7}"), "é\\u{7}");
    }
}
