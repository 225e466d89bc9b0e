//! What the `.pt2` and ONNX readers do with files they cannot read as asked, or can read only in part:
//! one clear line naming the file, or a note that says what is missing — never a number that looks
//! whole when it is not. The damaged files are made here from the real samples.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use tchinfo_core::sources::graph::symbols::SizeRequest;
use tchinfo_core::sources::{LoadOptions, onnx, pt2, read_file_with};
use tchinfo_core::summary::ModelSummary;
use zip::write::FileOptions;

fn sample(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(file)
}

/// The records of a zip, in order.
fn records(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().to_string(), data)
        })
        .collect()
}

fn zip_of(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in records {
        w.start_file(name.as_str(), FileOptions::default()).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// `tied_embedding.pt2` with its program JSON passed through `edit`.
fn edited_pt2(edit: impl Fn(String) -> String) -> Vec<u8> {
    let mut recs = records(&std::fs::read(sample("tied_embedding.pt2")).unwrap());
    for (name, data) in &mut recs {
        if name.ends_with("models/model.json") {
            *data = edit(String::from_utf8(data.clone()).unwrap()).into_bytes();
        }
    }
    zip_of(&recs)
}

fn read_pt2(bytes: Vec<u8>) -> Result<ModelSummary, String> {
    pt2::read_from(
        Path::new("x.pt2"),
        Cursor::new(bytes),
        &SizeRequest::default(),
    )
    .map_err(|e| e.to_string())
}

fn one_line_naming(e: &str, file: &str) {
    assert!(e.starts_with(&format!("{file}: ")), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn a_newer_schema_is_refused_with_its_version() {
    let bytes = edited_pt2(|j| j.replace("\"major\": 8", "\"major\": 9"));
    let e = read_pt2(bytes).unwrap_err();
    one_line_naming(&e, "x.pt2");
    assert!(
        e.contains("schema 9.") && e.contains("newer than the 8.x"),
        "{e}"
    );
}

#[test]
fn damaged_programs_are_one_line_errors() {
    let truncated = edited_pt2(|j| j[..j.len() / 2].to_string());
    let e = read_pt2(truncated).unwrap_err();
    one_line_naming(&e, "x.pt2");
    assert!(e.contains("models/model.json"), "{e}");
    let not_a_program = edited_pt2(|_| "{\"graph_module\": 5}".into());
    let e = read_pt2(not_a_program).unwrap_err();
    assert!(
        e.contains("not an exported program this reader knows"),
        "{e}"
    );
    let negative = edited_pt2(|j| j.replace("{\"as_int\": 16}", "{\"as_int\": -16}"));
    let e = read_pt2(negative).unwrap_err();
    one_line_naming(&e, "x.pt2");
}

#[test]
fn archives_without_a_program_say_what_they_are() {
    let aoti = zip_of(&[
        ("pkg/archive_format".into(), b"pt2".to_vec()),
        ("pkg/archive_version".into(), b"1".to_vec()),
        (
            "pkg/data/aotinductor/model/abc.wrapper.so".into(),
            vec![0x7f, b'E', b'L', b'F'],
        ),
    ]);
    assert!(pt2::is_pt2(Cursor::new(&aoti)));
    let e = read_pt2(aoti).unwrap_err();
    one_line_naming(&e, "x.pt2");
    assert!(
        e.contains("AOTInductor package") && e.contains("model"),
        "{e}"
    );
    let empty = zip_of(&[("pkg/archive_format".into(), b"pt2".to_vec())]);
    let e = read_pt2(empty).unwrap_err();
    assert!(e.contains("without pkg/models/<name>.json"), "{e}");
    let other = zip_of(&[
        ("pkg/archive_format".into(), b"pt3".to_vec()),
        ("pkg/models/model.json".into(), b"{}".to_vec()),
    ]);
    let e = read_pt2(other).unwrap_err();
    assert!(e.contains("says \"pt3\""), "{e}");
    // A TorchScript archive is not taken for one.
    let ts = std::fs::read(sample("vgg_tiny.pt")).unwrap();
    assert!(!pt2::is_pt2(Cursor::new(&ts)));
}

#[test]
fn operators_the_counter_cannot_count_are_named() {
    let bytes = edited_pt2(|j| {
        j.replace(
            "torch.ops.aten.tanh.default",
            "torch.ops.mylib.custom.default",
        )
    });
    let s = read_pt2(bytes).unwrap();
    let note = s
        .notes
        .iter()
        .find(|n| n.contains("no formula"))
        .unwrap_or_else(|| panic!("{:?}", s.notes));
    assert!(note.contains("mylib::custom ×1"), "{note}");
    // What was counted still is: both Linear layers, as in the unedited file (tanh does no mult-adds).
    let plain = read_pt2(edited_pt2(|j| j)).unwrap();
    assert!(
        plain.notes.iter().all(|n| !n.contains("no formula")),
        "{:?}",
        plain.notes
    );
    assert_eq!(s.totals().op_mult_adds, plain.totals().op_mult_adds);
    assert!(s.totals().op_mult_adds.unwrap_or(0) > 0);
}

#[test]
fn asked_sizes_that_do_not_fit_the_file_are_refused() {
    let opts = |sizes: Vec<Vec<i64>>| LoadOptions {
        input_sizes: sizes,
        ..LoadOptions::default()
    };
    let e = read_file_with(&sample("resnet_tiny.pt2"), &opts(vec![vec![4, 3, 64, 64]]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("input x, dimension 2 is fixed at 32"), "{e}");
    let e = read_file_with(&sample("resnet_tiny.pt2"), &opts(vec![vec![4, 3, 32]]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("4 dimensions in the file"), "{e}");
    let s = read_file_with(&sample("resnet_tiny.pt2"), &opts(vec![vec![5, 3, 32, 32]])).unwrap();
    assert_eq!(s.root.outputs.as_ref().unwrap()[0].shape, [5, 10]);
}

#[test]
fn damaged_onnx_files_are_one_line_errors() {
    let bytes = std::fs::read(sample("tiny_transformer.onnx")).unwrap();
    let read = |b: Vec<u8>| {
        onnx::read_from(Path::new("x.onnx"), Cursor::new(b), &SizeRequest::default())
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    for cut in [1, 7, 100, bytes.len() / 2, bytes.len() - 1] {
        let e = read(bytes[..cut].to_vec()).unwrap_err();
        one_line_naming(&e, "x.onnx");
        assert!(e.contains("not an ONNX model this reader can read"), "{e}");
    }
    let e = read(b"hello, world".to_vec()).unwrap_err();
    one_line_naming(&e, "x.onnx");
    // A model with no graph.
    let e = read(vec![0x08, 0x07, 0x12, 0x01, b'x']).unwrap_err();
    assert!(e.contains("without a graph"), "{e}");
}
