//! The zip central directory read once more, to refuse archives that two readers would read differently.
//!
//! PyTorch reads its archives with miniz, tchinfo with the `zip` crate, and they disagree on archives no
//! honest writer makes: with two entries of one name miniz finds one (by a case-insensitive binary
//! search) and the `zip` crate the other; with bytes before the archive the `zip` crate shifts every
//! offset and miniz does not; a local header can name other data than its directory entry. Such an
//! archive is refused with the entry that is ambiguous, so that what tchinfo shows is what PyTorch
//! loads. The scan also bounds what the `zip` crate would otherwise do unbounded: its search for the
//! zip64 end record steps one byte at a time from wherever the locator points (a locator pointing at
//! offset 0 of a 40 MB file costs seconds of reads), so the record must be exactly where its locator
//! says.
//!
//! Everything is read in at most two reads: the last 64 KiB (the end records) and the directory itself,
//! which must fit the same byte limit the `zip` crate is held to.

use crate::text;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

const END_SIGNATURE: u32 = 0x0605_4b50;
const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ENTRY_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
const END_SIZE: usize = 22;
const LOCATOR_SIZE: usize = 20;
const ZIP64_END_SIZE: usize = 56;

/// One entry of the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub flags: u16,
    pub method: u16,
    pub crc: u32,
    pub compressed: u64,
    pub uncompressed: u64,
    pub header_offset: u64,
}

/// The central directory, entries keyed by their name's bytes.
#[derive(Debug, Default)]
pub struct Directory {
    entries: HashMap<Vec<u8>, Entry>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("eight bytes"))
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    r.seek(SeekFrom::Start(at))
        .and_then(|_| r.read_exact(&mut buf))
        .map_err(|e| format!("cannot read the zip directory: {e}"))?;
    Ok(buf)
}

impl Directory {
    /// Reads the end records and the central directory of `r` (at most `max_directory_bytes` of
    /// directory), and refuses an archive two zip readers would read differently.
    pub fn scan<R: Read + Seek>(r: &mut R, max_directory_bytes: u64) -> Result<Directory, String> {
        let len = r
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("cannot read the file: {e}"))?;
        let not_zip =
            || "not a zip archive or a damaged one (no end of central directory)".to_string();
        if len < END_SIZE as u64 {
            return Err(not_zip());
        }
        let tail_len = len.min((END_SIZE + u16::MAX as usize + LOCATOR_SIZE) as u64) as usize;
        let tail_start = len - tail_len as u64;
        let tail = read_at(r, tail_start, tail_len)?;
        // The last end signature, searching back from the end as both readers do.
        let end_at = (0..=tail_len - END_SIZE)
            .rev()
            .find(|&i| u32_at(&tail, i) == END_SIGNATURE)
            .ok_or_else(not_zip)?;
        let end = &tail[end_at..];
        let end_pos = tail_start + end_at as u64;
        let mut count = u16_at(end, 10) as u64;
        let mut dir_size = u32_at(end, 12) as u64;
        let mut dir_offset = u32_at(end, 16) as u64;
        // Where the directory must end: at the zip64 end record when there is one, else at this record.
        let mut dir_end = end_pos;
        if end_at >= LOCATOR_SIZE && u32_at(&tail, end_at - LOCATOR_SIZE) == ZIP64_LOCATOR_SIGNATURE
        {
            let locator = &tail[end_at - LOCATOR_SIZE..];
            let record_pos = u64_at(locator, 8);
            let misplaced = || {
                format!(
                    "the zip64 end record is not where its locator says (offset {record_pos}): a \
                     damaged or hostile archive"
                )
            };
            let locator_pos = end_pos - LOCATOR_SIZE as u64;
            if record_pos
                .checked_add(ZIP64_END_SIZE as u64)
                .is_none_or(|e| e > locator_pos)
            {
                return Err(misplaced());
            }
            let record = read_at(r, record_pos, ZIP64_END_SIZE)?;
            if u32_at(&record, 0) != ZIP64_END_SIGNATURE {
                return Err(misplaced());
            }
            count = u64_at(&record, 32);
            dir_size = u64_at(&record, 40);
            dir_offset = u64_at(&record, 48);
            dir_end = record_pos;
        }
        if dir_size > max_directory_bytes {
            return Err(format!(
                "the zip directory is larger than {max_directory_bytes} bytes: a damaged or hostile file"
            ));
        }
        if dir_offset.checked_add(dir_size) != Some(dir_end) {
            return Err(format!(
                "the zip directory is not where its end record says (it says {dir_offset} + \
                 {dir_size} bytes, it ends at {dir_end}): bytes before or inside the archive, which \
                 PyTorch and other zip readers would read differently"
            ));
        }
        let bytes = read_at(r, dir_offset, dir_size as usize)?;
        let entries = parse_entries(&bytes, count)?;
        let mut directory = Directory {
            entries: HashMap::with_capacity(entries.len()),
        };
        // miniz finds names ignoring ASCII case; any two that match that way are one name to PyTorch.
        let mut folded: HashMap<Vec<u8>, usize> = HashMap::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            if folded.insert(entry.name.to_ascii_lowercase(), i).is_some() {
                return Err(format!(
                    "the archive holds two entries named {} (up to case): PyTorch's readers disagree \
                     on which one they load, so tchinfo reads neither",
                    text::bytes(&entry.name)
                ));
            }
            directory.entries.insert(entry.name.clone(), entry);
        }
        Ok(directory)
    }

    /// The entry of this exact name.
    pub fn get(&self, name: &[u8]) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// Refuses `entry` when its local header disagrees with the directory: another name, another
    /// compression, or (when the header records them) other sizes or checksum.
    pub fn check_local_header<R: Read + Seek>(r: &mut R, entry: &Entry) -> Result<(), String> {
        let shown = text::bytes(&entry.name);
        let disagree = |what: &str| {
            format!(
                "{shown}: its local header disagrees with the zip directory ({what}): PyTorch and \
                 other zip readers would read different data, so tchinfo reads neither"
            )
        };
        let header =
            read_at(r, entry.header_offset, 30).map_err(|_| disagree("no local header"))?;
        if u32_at(&header, 0) != LOCAL_SIGNATURE {
            return Err(disagree("no local header where the directory points"));
        }
        let name_len = u16_at(&header, 26) as usize;
        let name = read_at(r, entry.header_offset + 30, name_len)
            .map_err(|_| disagree("a truncated name"))?;
        if name != entry.name {
            return Err(disagree(&format!("it names {}", text::bytes(&name))));
        }
        if u16_at(&header, 8) != entry.method {
            return Err(disagree("another compression method"));
        }
        // Bit 3: sizes and checksum follow the data instead; 0xFFFFFFFF: they are in a zip64 field.
        if u16_at(&header, 6) & 0x8 == 0 {
            let (crc, compressed, uncompressed) = (
                u32_at(&header, 14),
                u32_at(&header, 18),
                u32_at(&header, 22),
            );
            let sized = |local: u32, dir: u64| local == u32::MAX || local as u64 == dir;
            if crc != entry.crc
                || !sized(compressed, entry.compressed)
                || !sized(uncompressed, entry.uncompressed)
            {
                return Err(disagree("other sizes or checksum"));
            }
        }
        Ok(())
    }
}

/// The `count` entries at the start of `bytes`, each checked to lie within it.
fn parse_entries(bytes: &[u8], count: u64) -> Result<Vec<Entry>, String> {
    let damaged = |i: u64| format!("the zip directory's entry {i} is damaged");
    let mut entries = Vec::with_capacity(count.min(bytes.len() as u64 / 46) as usize);
    let mut at = 0usize;
    for i in 0..count {
        let fixed = bytes.get(at..at + 46).ok_or_else(|| damaged(i))?;
        if u32_at(fixed, 0) != ENTRY_SIGNATURE {
            return Err(damaged(i));
        }
        let (name_len, extra_len, comment_len) = (
            u16_at(fixed, 28) as usize,
            u16_at(fixed, 30) as usize,
            u16_at(fixed, 32) as usize,
        );
        let name_at = at + 46;
        let name = bytes
            .get(name_at..name_at + name_len)
            .ok_or_else(|| damaged(i))?
            .to_vec();
        let extra = bytes
            .get(name_at + name_len..name_at + name_len + extra_len)
            .ok_or_else(|| damaged(i))?;
        let mut entry = Entry {
            name,
            flags: u16_at(fixed, 8),
            method: u16_at(fixed, 10),
            crc: u32_at(fixed, 16),
            compressed: u32_at(fixed, 20) as u64,
            uncompressed: u32_at(fixed, 24) as u64,
            header_offset: u32_at(fixed, 42) as u64,
        };
        apply_zip64(&mut entry, extra);
        entries.push(entry);
        at = name_at + name_len + extra_len + comment_len;
        if at > bytes.len() {
            return Err(damaged(i));
        }
    }
    Ok(entries)
}

/// The 64-bit sizes and offset of the zip64 extra field (id 1), for the fields the entry marks with
/// 0xFFFFFFFF, in the order the format fixes.
fn apply_zip64(entry: &mut Entry, mut extra: &[u8]) {
    while extra.len() >= 4 {
        let (id, len) = (u16_at(extra, 0), u16_at(extra, 2) as usize);
        let Some(body) = extra.get(4..4 + len) else {
            return;
        };
        if id == 1 {
            let mut values = body.chunks_exact(8).map(|c| u64_at(c, 0));
            for field in [
                &mut entry.uncompressed,
                &mut entry.compressed,
                &mut entry.header_offset,
            ] {
                if *field == u32::MAX as u64 {
                    match values.next() {
                        Some(v) => *field = v,
                        None => return,
                    }
                }
            }
            return;
        }
        extra = &extra[4 + len..];
    }
}
