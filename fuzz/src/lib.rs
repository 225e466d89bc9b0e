//! What the fuzz targets share: turning a fuzzer's bytes into a model archive, and running everything
//! that consumes a summary read from a file, so a hostile file that reads "successfully" still has its
//! totals, reports and lint computed (where an overflowing sum or a deep tree would show).

use std::io::{Cursor, Write};
use tchinfo_core::reports::{compare, csv, json, lint, markdown, summary, table::TableOptions};
use tchinfo_core::sources::SourceError;
use tchinfo_core::summary::ModelSummary;
use tchinfo_core::summary::lint::redundant_biases;
use zip::write::FileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Separates the records of a `model` input. Chosen to be unlikely inside a pickle or a code file.
pub const RECORD_SEPARATOR: &[u8] = b"\n@@tchinfo-record@@ ";

/// A `model` input: records separated by [`RECORD_SEPARATOR`], each `name\n` then its bytes. The first
/// record needs no separator before it. Records are written, stored, under `archive/`, with correct CRCs,
/// so mutations reach the pickle machine and the class parser instead of stopping at a checksum.
pub fn records(input: &[u8]) -> Vec<(String, &[u8])> {
    split(input, RECORD_SEPARATOR)
        .into_iter()
        .filter_map(|rec| {
            let nl = rec.iter().position(|&b| b == b'\n')?;
            let name = std::str::from_utf8(&rec[..nl]).ok()?;
            Some((name.to_string(), &rec[nl + 1..]))
        })
        .collect()
}

/// The inverse of [`records`], to write seeds.
pub fn join_records(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, data)) in records.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(RECORD_SEPARATOR);
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(data);
    }
    out
}

fn split<'a>(input: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= input.len() {
        if &input[i..i + sep.len()] == sep {
            out.push(&input[start..i]);
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&input[start..]);
    out
}

/// A zip archive of the records under `archive/`; names the zip writer refuses are skipped.
pub fn zip_records(records: &[(String, &[u8])]) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let stored = FileOptions::default().compression_method(CompressionMethod::Stored);
    for (name, data) in records {
        if w.start_file(format!("archive/{name}"), stored).is_err() {
            continue;
        }
        w.write_all(data).expect("writing to memory");
    }
    w.finish().expect("writing to memory").into_inner()
}

/// What the whole-file targets require of the reader: a summary, which every report must then digest, or
/// one error line that names the file.
pub fn check(read: Result<ModelSummary, SourceError>) {
    check_named(read, "fuzz.pt")
}

/// [`check`] for a reader given the file name `label`.
pub fn check_named(read: Result<ModelSummary, SourceError>, label: &str) {
    match read {
        Ok(summary) => consume(&summary),
        Err(e) => {
            let line = e.to_string();
            assert!(
                line.starts_with(&format!("{label}: ")) && !line.contains('\n'),
                "not one error line naming the file: {line:?}"
            );
        }
    }
}

/// A `.pt2` archive around `program` as its `models/model.json`, stored with a correct checksum, so
/// mutations of the JSON reach the program reader instead of stopping at the zip's CRC.
pub fn pt2_of_program(program: &[u8]) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let stored = FileOptions::default().compression_method(CompressionMethod::Stored);
    for (name, data) in [
        ("archive/archive_format", &b"pt2"[..]),
        ("archive/models/model.json", program),
    ] {
        w.start_file(name, stored).expect("writing to memory");
        w.write_all(data).expect("writing to memory");
    }
    w.finish().expect("writing to memory").into_inner()
}

/// Everything a user can ask of a summary read from a file: totals, every report, the lint, a comparison.
pub fn consume(s: &ModelSummary) {
    let _ = s.totals();
    let opts = TableOptions {
        max_depth: usize::MAX,
        ..TableOptions::default()
    };
    let _ = summary::render(s, &opts);
    let _ = summary::render(s, &TableOptions::default());
    let _ = markdown::render(s, &opts);
    let _ = csv::render(s);
    let _ = json::to_string(&json::summary_json(s));
    let bias = redundant_biases(s);
    let _ = lint::render_text(&s.name, &bias);
    let _ = lint::render_json(&s.name, &bias);
    let pair = [s.clone(), s.clone()];
    let c = compare::compare(&pair);
    let _ = compare::render_text(&c);
}
