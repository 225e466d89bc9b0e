//! The zip container of TorchScript files and `torch.save` checkpoints.
//!
//! Only the central directory and the few small records that describe the model are read (`data.pkl`,
//! `code/**/*.py`). The tensor records (`data/<key>`) are never opened, so the cost does not grow with the
//! weights. Record sizes declared in the directory are checked against limits and never used to allocate.
//! The directory itself is read through a meter: the zip reader keeps every entry in memory (about six
//! times its size on disk), so a directory of a gigabyte is refused after [`MAX_DIRECTORY_BYTES`].
//!
//! Opening an archive also reads it the way PyTorch does ([`zip_directory`]): an archive with two
//! entries of one name, bytes before it, a misplaced zip64 end record, or a record whose local header
//! disagrees with its directory entry is refused, naming the entry, since readers differ on it.

use super::zip_directory::Directory;
use std::cell::{Cell, RefCell};
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
    /// The same reader, for local headers (the zip reader seeks before every read of its own).
    file: Rc<RefCell<R>>,
    directory: Directory,
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
        let (mut zip, file, directory) = open_checked(reader, max_directory_bytes)?;
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
            file,
            directory,
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
        let found = self.read("constants.pkl", MAX_PICKLE_BYTES)?;
        // The constants' tensor records without the pickle that lists them: a damaged name, not a
        // model without constants (a frozen model's weights would silently vanish).
        let records = format!("{}constants/", self.root);
        if found.is_none() && self.zip.file_names().any(|n| n.starts_with(&records)) {
            return Err(format!(
                "the archive holds {records} records but no {}constants.pkl listing them",
                self.root
            ));
        }
        Ok(found)
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
        if let Some(entry) = self.directory.get(full.as_bytes()) {
            Directory::check_local_header(&mut *self.file.borrow_mut(), entry)?;
        }
        read_record(&mut self.zip, &full, limit)
    }
}

/// The zip directory, checked as PyTorch would read it (one entry per name, no bytes before the
/// archive, a zip64 locator that points at its record: [`Directory::scan`]), then read through a meter
/// that refuses it past `max_directory_bytes`; shared with the readers of other zip layouts (`.pt2`),
/// so every archive gets the same bounds and one reading.
pub(crate) fn open_zip<R: Read + Seek>(
    reader: R,
    max_directory_bytes: u64,
) -> Result<ZipArchive<Metered<R>>, String> {
    open_checked(reader, max_directory_bytes).map(|(zip, _, _)| zip)
}

/// [`open_zip`], also handing back the reader (for local headers: the zip reader seeks before every
/// read of its own) and the checked directory.
#[allow(clippy::type_complexity)]
fn open_checked<R: Read + Seek>(
    mut reader: R,
    max_directory_bytes: u64,
) -> Result<(ZipArchive<Metered<R>>, Rc<RefCell<R>>, Directory), String> {
    let directory = Directory::scan(&mut reader, max_directory_bytes)?;
    let file = Rc::new(RefCell::new(reader));
    let left = Rc::new(Cell::new(max_directory_bytes));
    let metered = Metered {
        inner: file.clone(),
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
    Ok((zip, file, directory))
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
    inner: Rc<RefCell<R>>,
    left: Rc<Cell<u64>>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left.get();
        if left == 0 && !buf.is_empty() {
            return Err(io::Error::other("read limit reached"));
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = self.inner.borrow_mut().read(&mut buf[..n])?;
        self.left.set(left - got as u64);
        Ok(got)
    }
}

impl<R: Seek> Seek for Metered<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.borrow_mut().seek(to)
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

    /// `from` replaced by `to` (same length) at its first `times` occurrences.
    fn patched(bytes: &[u8], from: &str, to: &str, times: usize) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let mut out = bytes.to_vec();
        let mut done = 0;
        let mut i = 0;
        while done < times && i + from.len() <= out.len() {
            if &out[i..i + from.len()] == from.as_bytes() {
                out[i..i + from.len()].copy_from_slice(to.as_bytes());
                done += 1;
            }
            i += 1;
        }
        assert_eq!(done, times, "{from} found {done} times");
        out
    }

    fn open_error(bytes: Vec<u8>) -> String {
        Archive::open(Cursor::new(bytes)).err().expect("refused")
    }

    #[test]
    fn two_entries_of_one_name_are_refused_naming_it() {
        let bytes = zip_of(&["archive/data.pkl", "archive/data.pkX", "archive/version"]);
        let twice = patched(&bytes, "archive/data.pkX", "archive/data.pkl", 2);
        let e = open_error(twice);
        assert!(
            e.contains("two entries named archive/data.pkl") && e.contains("reads neither"),
            "{e}"
        );
        // miniz finds names ignoring case: to PyTorch these are one name too.
        let cased = patched(&bytes, "archive/data.pkX", "archive/DATA.pkl", 2);
        let e = open_error(cased);
        assert!(e.contains("two entries named archive/DATA.pkl"), "{e}");
    }

    #[test]
    fn bytes_before_the_archive_are_refused() {
        let mut bytes = b"junk".to_vec();
        bytes.extend(zip_of(&["archive/data.pkl"]));
        let e = open_error(bytes);
        assert!(e.contains("not where its end record says"), "{e}");
    }

    #[test]
    fn a_zip64_locator_must_point_at_its_record() {
        let bytes = zip_of(&["archive/data.pkl"]);
        // A locator (signature, disk, record offset 0, disks) just before the end record: the zip
        // crate would search every byte from offset 0 for the record.
        let end = bytes.len() - 22;
        let mut hostile = bytes[..end].to_vec();
        hostile.extend(0x0706_4b50u32.to_le_bytes());
        hostile.extend(0u32.to_le_bytes());
        hostile.extend(0u64.to_le_bytes());
        hostile.extend(1u32.to_le_bytes());
        hostile.extend(&bytes[end..]);
        let e = open_error(hostile);
        assert!(
            e.contains("zip64 end record is not where its locator says"),
            "{e}"
        );
    }

    #[test]
    fn a_local_header_that_disagrees_is_refused_naming_the_entry() {
        let bytes = zip_of(&["archive/data.pkl"]);
        // The first occurrence is the local header's name, the second the directory's.
        let renamed = patched(&bytes, "archive/data.pkl", "archive/data.pkX", 1);
        let mut a = Archive::open(Cursor::new(renamed)).unwrap();
        let e = a.read_pickle().unwrap_err();
        assert!(
            e.contains("archive/data.pkl: its local header disagrees")
                && e.contains("it names archive/data.pkX"),
            "{e}"
        );
        // The local header's compressed size (offset 18) differs from the directory's.
        let mut resized = bytes.clone();
        resized[18] ^= 1;
        let mut a = Archive::open(Cursor::new(resized)).unwrap();
        let e = a.read_pickle().unwrap_err();
        assert!(e.contains("other sizes or checksum"), "{e}");
        let mut a = Archive::open(Cursor::new(bytes)).unwrap();
        assert_eq!(a.read_pickle().unwrap(), b"\x80\x02}.");
    }
}
