//! Damaged files: every sample in `models/`, truncated at many offsets and with bytes flipped — in the
//! archive as a whole, inside its `data.pkl` and inside its `code/` files (re-zipped so the damage reaches
//! the pickle machine and the class parser rather than stopping at the zip CRC) — must give a correct
//! summary or one clean error line, never a panic. Each sample's cases run against a deadline of a
//! minute (they take well under a second), so a hang fails the test instead of stalling it.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use tchinfo::sources::torchscript::read_from;
use tchinfo::summary::ModelSummary;
use zip::write::FileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

const LABEL: &str = "damaged.pt";

fn samples() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pt"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 12, "the samples are in models/");
    out
}

/// Runs one sample's cases on a thread: a panic fails with its message, a hang fails at the deadline.
fn within_deadline(sample: &str, cases: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        cases();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{sample}: no answer within a minute"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

fn read(bytes: Vec<u8>) -> Result<ModelSummary, String> {
    read_from(Path::new(LABEL), Cursor::new(bytes)).map_err(|e| e.to_string())
}

/// One line that names the file.
fn assert_clean(sample: &str, what: &str, message: &str) {
    assert!(
        message.starts_with(LABEL),
        "{sample} {what}: error does not name the file: {message}"
    );
    assert_eq!(
        message.lines().count(),
        1,
        "{sample} {what}: error is not one line: {message}"
    );
}

/// Offsets spread over the whole file plus every offset in its tail (the zip directory).
fn offsets(len: usize, spread: usize, tail: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..spread).map(|i| i * len / spread).collect();
    v.extend(len.saturating_sub(tail)..len);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn truncated_and_flipped_archives_give_the_summary_or_a_clean_error() {
    for (name, bytes) in samples() {
        within_deadline(&name.clone(), move || damage_archive(name, bytes));
    }
}

fn damage_archive(name: String, bytes: Vec<u8>) {
    let original = read(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    // Any cut loses the end-of-directory record, so a few dozen cuts say as much as thousands.
    for cut in offsets(bytes.len(), 40, 64) {
        match read(bytes[..cut].to_vec()) {
            Ok(s) => assert_eq!(s, original, "{name} cut at {cut}: a different summary"),
            Err(e) => assert_clean(&name, &format!("cut at {cut}"), &e),
        }
    }
    for at in flip_positions(&bytes) {
        for mask in [0xff, 0x01] {
            let mut damaged = bytes.clone();
            damaged[at] ^= mask;
            // Tensor bytes are never read and the CRC guards the records that are, so a file that
            // still reads must read as the original.
            match read(damaged) {
                Ok(s) => assert_eq!(
                    s, original,
                    "{name} byte {at} ^ {mask:#x}: a different summary"
                ),
                Err(e) => assert_clean(&name, &format!("byte {at} ^ {mask:#x}"), &e),
            }
        }
    }
}

/// 200 positions over the whole file, 600 over the central directory (where every byte matters to the
/// reader) and every byte of the end-of-directory record.
fn flip_positions(bytes: &[u8]) -> Vec<usize> {
    let eocd = bytes.len() - 22;
    assert_eq!(
        &bytes[eocd..eocd + 4],
        b"PK\x05\x06",
        "samples have no zip comment"
    );
    let directory = u32::from_le_bytes(bytes[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let mut v: Vec<usize> = (0..200).map(|i| i * bytes.len() / 200).collect();
    v.extend((0..600).map(|i| directory + i * (eocd - directory) / 600));
    v.extend(eocd..bytes.len());
    v.sort_unstable();
    v.dedup();
    v
}

/// The sample's records, to rebuild it with a different `data.pkl`.
fn records(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().to_string(), data)
        })
        .collect()
}

/// The records again with `data.pkl` replaced.
fn rezip(records: &[(String, Vec<u8>)], pickle: &[u8]) -> Vec<u8> {
    rezip_replacing(records, |name| name.ends_with("/data.pkl"), pickle)
}

/// The records again, all stored, the one `is_target` picks holding `replacement`: compressing the code
/// files anew for every case would dominate the test's time, and the untouched samples already cover
/// compressed records.
fn rezip_replacing(
    records: &[(String, Vec<u8>)],
    is_target: impl Fn(&str) -> bool,
    replacement: &[u8],
) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in records {
        w.start_file(
            name.as_str(),
            FileOptions::default().compression_method(CompressionMethod::Stored),
        )
        .unwrap();
        w.write_all(if is_target(name) { replacement } else { data })
            .unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn damaged_pickles_give_a_summary_or_a_clean_error() {
    for (name, bytes) in samples() {
        within_deadline(&name.clone(), move || damage_pickle(name, bytes));
    }
}

fn damage_pickle(name: String, bytes: Vec<u8>) {
    let recs = records(&bytes);
    let pickle = recs
        .iter()
        .find(|r| r.0.ends_with("/data.pkl"))
        .unwrap()
        .1
        .clone();
    // The rebuilt archive with the pickle untouched reads as the original does.
    assert_eq!(
        read(rezip(&recs, &pickle)).unwrap(),
        read(bytes.clone()).unwrap(),
        "{name}: rezip"
    );
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in offsets(pickle.len(), 150, 0) {
        cases.push((format!("pickle cut at {cut}"), pickle[..cut].to_vec()));
    }
    for at in offsets(pickle.len(), 400, 0) {
        let mut flipped = pickle.clone();
        flipped[at] ^= 0xff;
        cases.push((format!("pickle byte {at} ^ 0xff"), flipped));
        let mut replaced = pickle.clone();
        replaced[at] = (at as u8).wrapping_mul(131).wrapping_add(7);
        cases.push((format!("pickle byte {at} replaced"), replaced));
    }
    for (what, damaged) in cases {
        match read(rezip(&recs, &damaged)) {
            // The pickle may now describe another valid model; it must still add up.
            Ok(s) => {
                let _ = s.totals();
            }
            Err(e) => assert_clean(&name, &what, &e),
        }
    }
}

/// Every class declaration file of every TorchScript sample, cut and with bytes changed: the class parser
/// sees broken headers, lists and names, and the walk sees classes that lost their parameters.
#[test]
fn damaged_code_files_give_a_summary_or_a_clean_error() {
    let mut code_files = 0;
    for (name, bytes) in samples() {
        let recs = records(&bytes);
        code_files += recs.iter().filter(|r| is_code(&r.0)).count();
        within_deadline(&name.clone(), move || damage_code(name, recs));
    }
    assert!(code_files >= 30, "the TorchScript samples have code files");
}

fn is_code(record: &str) -> bool {
    record.contains("/code/") && record.ends_with(".py")
}

fn damage_code(name: String, recs: Vec<(String, Vec<u8>)>) {
    for (file, code) in recs.iter().filter(|r| is_code(&r.0)) {
        let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
        for cut in offsets(code.len(), 12, 0) {
            cases.push((format!("{file} cut at {cut}"), code[..cut].to_vec()));
        }
        for at in offsets(code.len(), 24, 0) {
            // A byte that breaks UTF-8, and characters the parser splits on.
            for replacement in [0xff, b'\n', b'"', b' ', b'('] {
                let mut changed = code.clone();
                changed[at] = replacement;
                cases.push((format!("{file} byte {at} = {replacement:#x}"), changed));
            }
        }
        for (what, damaged) in cases {
            match read(rezip_replacing(&recs, |n| n == file, &damaged)) {
                Ok(s) => {
                    let _ = s.totals();
                }
                Err(e) => assert_clean(&name, &what, &e),
            }
        }
    }
}

#[test]
fn files_that_are_not_models_are_named_as_such() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"hello, world\n", "not a zip archive"),
        (
            b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.",
            "legacy torch.save",
        ),
        (
            b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{}}       ",
            "safetensors",
        ),
        (b"GGUF\x03\x00\x00\x00", "GGUF"),
    ];
    for (bytes, needle) in cases {
        let e = read(bytes.to_vec()).unwrap_err();
        assert!(e.contains(needle), "{e}");
        assert_clean("literal", needle, &e);
    }
    // A zip without data.pkl.
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("notes.txt", FileOptions::default()).unwrap();
    w.write_all(b"hi").unwrap();
    let e = read(w.finish().unwrap().into_inner()).unwrap_err();
    assert!(e.contains("without data.pkl"), "{e}");

    let missing =
        tchinfo::sources::torchscript::read_file(Path::new("models/no-such-file.pt")).unwrap_err();
    assert!(
        missing.to_string().starts_with("models/no-such-file.pt: "),
        "{missing}"
    );
}

/// `constants.pkl` only feeds a note (how many tensors a frozen module keeps there): a damaged one
/// must not cost the summary of a model that was read.
#[test]
fn a_damaged_constants_pickle_is_a_note_not_an_error() {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/vgg_tiny.pt")).unwrap();
    let recs = records(&bytes);
    assert!(recs.iter().any(|(n, _)| n.ends_with("/constants.pkl")));
    let damaged = rezip_replacing(&recs, |n| n.ends_with("/constants.pkl"), b"\x80\x02\xff");
    let intact = read(bytes).unwrap();
    let s = read(damaged).unwrap();
    assert_eq!(s.totals().params, intact.totals().params);
    assert!(
        s.notes
            .iter()
            .any(|n| n.starts_with("constants.pkl could not be read")),
        "{:?}",
        s.notes
    );
}
