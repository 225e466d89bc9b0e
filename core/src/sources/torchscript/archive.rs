//! The zip container of TorchScript files and `torch.save` checkpoints.
//!
//! Only the central directory and the few small records that describe the model are read (`data.pkl`,
//! `code/**/*.py`). The tensor records (`data/<key>`) are never opened, so the cost does not grow with the
//! weights. Record sizes declared in the directory are checked against limits and never used to allocate.
//! The directory itself is read through a meter: the zip reader keeps every entry in memory (about six
//! times its size on disk), so a directory of a gigabyte is refused after [`MAX_DIRECTORY_BYTES`].

use std::cell::Cell;
use std::io::{self, Read, Seek, SeekFrom};
use std::rc::Rc;
use zip::ZipArchive;
use zip::result::ZipError;

/// The largest `data.pkl` accepted. Real ones are kilobytes to a few megabytes (about 150 bytes a tensor).
pub const MAX_PICKLE_BYTES: u64 = 64 << 20;
/// The largest single `code/` file accepted, and the most code read in total.
pub const MAX_CODE_FILE_BYTES: u64 = 16 << 20;
pub const MAX_CODE_TOTAL_BYTES: u64 = 64 << 20;
/// The most the zip reader may read to open the archive (the end record and the central directory).
/// Real directories take about 100 bytes a record: 32 MiB is over 300,000 tensors.
pub const MAX_DIRECTORY_BYTES: u64 = 32 << 20;

pub struct Archive<R: Read + Seek> {
    zip: ZipArchive<Metered<R>>,
    /// The folder every record sits in, with its slash (`vgg16/`, `archive/`), or empty.
    root: String,
    code_bytes_read: u64,
}

/// What the archive holds at its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `code/` or `constants.pkl` next to `data.pkl`.
    TorchScript,
    /// `data.pkl` alone: a `torch.save` pickle.
    TorchSave,
}

impl<R: Read + Seek> Archive<R> {
    /// Reads the central directory and finds the root folder holding `data.pkl`.
    pub fn open(reader: R) -> Result<Archive<R>, String> {
        Archive::open_limited(reader, MAX_DIRECTORY_BYTES)
    }

    /// [`Archive::open`] reading at most `max_directory_bytes` to find and parse the directory.
    pub fn open_limited(reader: R, max_directory_bytes: u64) -> Result<Archive<R>, String> {
        let mut zip = open_zip(reader, max_directory_bytes)?;
        let first = first_record_name(&mut zip)?;
        let root = find_root(first.as_deref(), |name| zip.file_names().any(|n| n == name))
            .ok_or_else(|| match first.as_deref().and_then(|n| n.split_once('/')) {
                Some((folder, _)) => format!(
                    "a zip archive without {folder}/data.pkl (the folder of its first record): not a TorchScript file or torch.save checkpoint"
                ),
                None => "a zip archive without data.pkl: not a TorchScript file or torch.save checkpoint"
                    .to_string(),
            })?;
        Ok(Archive {
            zip,
            root,
            code_bytes_read: 0,
        })
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn layout(&self) -> Layout {
        let code = format!("{}code/", self.root);
        let constants = format!("{}constants.pkl", self.root);
        if self
            .zip
            .file_names()
            .any(|n| n == constants || n.starts_with(&code))
        {
            Layout::TorchScript
        } else {
            Layout::TorchSave
        }
    }

    pub fn read_pickle(&mut self) -> Result<Vec<u8>, String> {
        self.read("data.pkl", MAX_PICKLE_BYTES)?
            .ok_or_else(|| format!("the archive has no {}data.pkl", self.root))
    }

    /// `constants.pkl`, where TorchScript keeps the tensors its code uses as constants (all the weights of
    /// a `torch.jit.freeze`d module); `None` when the archive has none.
    pub fn read_constants(&mut self) -> Result<Option<Vec<u8>>, String> {
        self.read("constants.pkl", MAX_PICKLE_BYTES)
    }

    /// A code file under `code/`, or `None` when the archive has none by that name.
    pub fn read_code(&mut self, relative: &str) -> Result<Option<String>, String> {
        let name = format!("code/{relative}");
        let left = MAX_CODE_TOTAL_BYTES.saturating_sub(self.code_bytes_read);
        let Some(bytes) = self.read(&name, MAX_CODE_FILE_BYTES.min(left))? else {
            return Ok(None);
        };
        self.code_bytes_read += bytes.len() as u64;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{name} is not UTF-8 text"))
    }

    /// One record by its name under the root, at most `limit` bytes, its CRC checked by the zip reader;
    /// `None` when there is no such record (the zip reader looks names up in a hash map).
    fn read(&mut self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        let full = format!("{}{name}", self.root);
        read_record(&mut self.zip, &full, limit)
    }
}

/// The zip directory, read through a meter that refuses it past `max_directory_bytes`; shared with the
/// readers of other zip layouts (`.pt2`), so every archive gets the same bounds.
pub(crate) fn open_zip<R: Read + Seek>(
    reader: R,
    max_directory_bytes: u64,
) -> Result<ZipArchive<Metered<R>>, String> {
    let left = Rc::new(Cell::new(max_directory_bytes));
    let metered = Metered {
        inner: reader,
        left: left.clone(),
    };
    let zip = ZipArchive::new(metered).map_err(|e| match e {
        _ if left.get() == 0 => format!(
            "the zip directory is larger than {max_directory_bytes} bytes: a damaged or hostile file"
        ),
        ZipError::InvalidArchive(_) | ZipError::UnsupportedArchive(_) => {
            format!("not a zip archive or a damaged one ({e})")
        }
        other => format!("cannot read the zip directory: {other}"),
    })?;
    // Records are read with their own limits from here on.
    left.set(u64::MAX);
    Ok(zip)
}

/// The name of the first record in the directory, whose folder PyTorch takes for the archive's root
/// (the zip reader's name list is a hash map, in no fixed order); `None` for an empty archive.
pub(crate) fn first_record_name<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
) -> Result<Option<String>, String> {
    if zip.is_empty() {
        return Ok(None);
    }
    zip.by_index_raw(0)
        .map(|f| Some(f.name().to_string()))
        .map_err(|e| format!("cannot read the zip archive's first record: {e}"))
}

/// One record by its full name, at most `limit` bytes, its CRC checked by the zip reader; `None` when
/// there is no such record (the zip reader looks names up in a hash map). The declared size is checked
/// before anything is read, and never used to allocate.
pub(crate) fn read_record<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    full: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, String> {
    let file = match zip.by_name(full) {
        Ok(f) => f,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(other) => return Err(format!("cannot open {full}: {other}")),
    };
    if file.size() > limit {
        return Err(format!(
            "{full} declares {} bytes, more than the {} accepted",
            file.size(),
            limit
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {full}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{full} is larger than the {limit} bytes accepted"));
    }
    Ok(Some(bytes))
}

/// A reader that fails once it has delivered the bytes `left` allows.
pub(crate) struct Metered<R> {
    inner: R,
    left: Rc<Cell<u64>>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left.get();
        if left == 0 && !buf.is_empty() {
            return Err(io::Error::other("read limit reached"));
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = self.inner.read(&mut buf[..n])?;
        self.left.set(left - got as u64);
        Ok(got)
    }
}

impl<R: Seek> Seek for Metered<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

/// The folder holding `data.pkl`: as PyTorch reads archives, the folder of the first record (PyTorch
/// names it after the file, or `archive` when it saved to a buffer), whatever other folders hold. A
/// bare `data.pkl`, which PyTorch never writes, is taken when the first record is in no such folder.
fn find_root(first: Option<&str>, has: impl Fn(&str) -> bool) -> Option<String> {
    if let Some((folder, _)) = first.and_then(|n| n.split_once('/'))
        && has(&format!("{folder}/data.pkl"))
    {
        return Some(format!("{folder}/"));
    }
    has("data.pkl").then(String::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};
    use zip::ZipWriter;
    use zip::write::FileOptions;

    #[test]
    fn a_directory_past_the_limit_is_refused_before_it_is_held() {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("archive/data.pkl", FileOptions::default())
            .unwrap();
        w.write_all(b"\x80\x02}.").unwrap();
        for i in 0..2000 {
            w.start_file(format!("archive/data/{i}"), FileOptions::default())
                .unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        // About 60 bytes a record: 2,000 records need more than 64 KiB.
        let e = Archive::open_limited(Cursor::new(&bytes), 64 << 10)
            .err()
            .unwrap();
        assert!(e.contains("larger than 65536 bytes"), "{e}");
        let mut a = Archive::open_limited(Cursor::new(&bytes), 1 << 20).unwrap();
        assert_eq!(a.read_pickle().unwrap(), b"\x80\x02}.");
    }

    fn zip_of(names: &[&str]) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for name in names {
            w.start_file(*name, FileOptions::default()).unwrap();
            w.write_all(b"\x80\x02}.").unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn root_of(names: &[&str]) -> Result<String, String> {
        Archive::open(Cursor::new(zip_of(names))).map(|a| a.root().to_string())
    }

    #[test]
    fn the_root_is_the_folder_of_the_first_record() {
        assert_eq!(root_of(&["x/data.pkl", "x/data/0"]).unwrap(), "x/");
        assert_eq!(root_of(&["archive/data.pkl"]).unwrap(), "archive/");
        assert_eq!(root_of(&["data.pkl"]).unwrap(), "");
        // Two candidate folders (PyTorch never writes this): the first record's, as PyTorch reads it,
        // however the zip reader's name map orders them. Many names make a lucky order unlikely.
        let mut names: Vec<String> = (0..50).map(|i| format!("r{i}/data.pkl")).collect();
        names.rotate_left(37);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(root_of(&names).unwrap(), "r37/");
        let e = root_of(&["a/version", "b/data.pkl"]).unwrap_err();
        assert!(e.contains("without a/data.pkl"), "{e}");
        assert!(root_of(&["a/b/data.pkl", "x"]).is_err());
    }
}
