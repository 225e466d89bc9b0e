//! Reading the torchvision fixtures the built-in architecture tests compare against
//! (`tests/fixtures/builtin/`, written by `make_fixtures.py` there).
#![allow(dead_code)]

use std::path::PathBuf;
use tchinfo::summary::{ModuleNode, TensorRecord};

/// libtorch on one thread per test: the test harness already runs tests in parallel, and two OpenMP
/// threads per test on a shared 2-core machine spend most of their time waiting at barriers.
pub fn one_torch_thread() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| tch::set_num_threads(1));
}

pub fn fixture(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/builtin")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `totals.txt`: (name, parameters, buffer elements).
pub fn totals() -> Vec<(String, u64, u64)> {
    fixture("totals.txt")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

/// Whether a fixture takes part: all of them, unless BUILTIN_FIXTURE names a part of the file or model
/// name (for working on one family: `BUILTIN_FIXTURE=convnext cargo test --release --test builtin_models`).
pub fn selected(name: &str) -> bool {
    std::env::var("BUILTIN_FIXTURE").map_or(true, |only| name.contains(&only))
}

/// One recorded forward pass: torchinfo's and the operator-level mult-adds, and every module call
/// as (path, output shape) in hook order.
pub struct ShapeRun {
    pub torchinfo_mult_adds: u64,
    pub op_mult_adds: u64,
    pub calls: Vec<(String, Vec<u64>)>,
}

pub fn shape_run(file: &str) -> ShapeRun {
    let text = fixture(&format!("shapes/{file}"));
    let mut run = ShapeRun {
        torchinfo_mult_adds: 0,
        op_mult_adds: 0,
        calls: Vec::new(),
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# torchinfo_mult_adds ") {
            run.torchinfo_mult_adds = rest.parse().unwrap();
        } else if let Some(rest) = line.strip_prefix("# op_mult_adds ") {
            run.op_mult_adds = rest.parse().unwrap();
        } else {
            let (path, shape) = line.split_once('\t').unwrap();
            let path = if path == "-" { "" } else { path };
            run.calls.push((
                path.to_string(),
                shape.split(',').map(|d| d.parse().unwrap()).collect(),
            ));
        }
    }
    run
}

/// The shape fixtures: (file, model name, C, H, W).
pub fn shape_runs() -> Vec<(String, String, Vec<i64>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/builtin/shapes");
    let mut runs: Vec<(String, String, Vec<i64>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .map(|file| {
            let stem = file.strip_suffix(".txt").unwrap();
            let (name, size) = stem.rsplit_once('_').unwrap();
            let chw = size.split('x').map(|d| d.parse().unwrap()).collect();
            (file.clone(), name.to_string(), chw)
        })
        .collect();
    runs.sort();
    runs.retain(|r| selected(&r.0));
    runs
}

fn tensors(records: &[TensorRecord]) -> String {
    if records.is_empty() {
        return "-".to_string();
    }
    let items: Vec<String> = records
        .iter()
        .map(|t| {
            let dims: Vec<String> = t.shape.iter().map(u64::to_string).collect();
            format!("{}[{}]:{}", t.name, dims.join(","), t.dtype)
        })
        .collect();
    items.join(" ")
}

/// A summary's module tree in the fixture's `modules/<name>.txt` format.
pub fn module_lines(root: &ModuleNode) -> Vec<String> {
    root.walk()
        .iter()
        .map(|(_, n)| {
            format!(
                "{}\t{}\t{}\t{}\t{}",
                if n.path.is_empty() { "-" } else { &n.path },
                n.type_name,
                tensors(&n.parameters),
                tensors(&n.buffers),
                n.qualified_type.as_deref().unwrap_or("?")
            )
        })
        .collect()
}

/// Panics at the first differing line, with its number and both versions.
pub fn assert_same_lines(what: &str, expected: &[String], actual: &[String]) {
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        assert_eq!(
            a,
            e,
            "{what}: entry {} differs (left: ours, right: torchvision)",
            i + 1
        );
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} lines, torchvision has {}",
        actual.len(),
        expected.len()
    );
}

/// One module's mult-adds in a recorded forward pass (`layers/<run>.txt`).
pub struct LayerMacs {
    pub path: String,
    /// `None` when the module was never called.
    pub called: bool,
    /// torchinfo's count over the module's calls, for leaves (torchinfo's total adds exactly these).
    pub torchinfo: Option<u64>,
    /// Operator mult-adds of the module with its submodules.
    pub op_inclusive: u64,
}

pub fn layer_macs(file: &str) -> Vec<LayerMacs> {
    fixture(&format!("layers/{file}"))
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let path = if f[0] == "-" { "" } else { f[0] };
            LayerMacs {
                path: path.to_string(),
                called: f[2] != "-",
                torchinfo: f[1].parse().ok(),
                op_inclusive: f[2].parse().unwrap_or(0),
            }
        })
        .collect()
}
