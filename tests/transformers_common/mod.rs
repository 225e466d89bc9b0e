//! Reading what `transformers` builds from each language-model config (`tests/fixtures/transformers/`,
//! written by `models/transformers_reference.py`), and comparing a summary's tree with it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use tchinfo::architectures::{Architecture, Tokens, presets};
use tchinfo::summary::ModuleNode;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transformers")
}

pub fn fixture(rel: &str) -> String {
    let path = dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A preset by name, or a tiny config from `configs/`.
pub fn architecture(name: &str) -> Architecture {
    match presets::find(name) {
        Some(p) => p.architecture(),
        None => Architecture::from_json(&fixture(&format!("configs/{name}.json")))
            .unwrap_or_else(|e| panic!("{name}: {e}")),
    }
}

pub struct Totals {
    pub name: String,
    pub params: u64,
    pub buffers: u64,
    /// `path=first owner` pairs.
    pub tied: Vec<String>,
}

/// `totals.txt`: every preset and tiny config.
pub fn totals() -> Vec<Totals> {
    fixture("totals.txt")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Totals {
                name: f[0].to_string(),
                params: f[1].parse().unwrap(),
                buffers: f[2].parse().unwrap(),
                tied: if f[3] == "-" {
                    vec![]
                } else {
                    f[3].split(' ').map(str::to_string).collect()
                },
            }
        })
        .collect()
}

/// `path=first owner` for every tied parameter of a tree, in pre-order.
pub fn tied_pairs(root: &ModuleNode) -> Vec<String> {
    let mut out = Vec::new();
    for (_, n) in root.walk() {
        for p in &n.parameters {
            if let Some(owner) = &p.tied_to {
                out.push(format!("{}={owner}", n.child_path(&p.name)));
            }
        }
    }
    out
}

pub fn module_fixture(name: &str) -> Vec<String> {
    fixture(&format!("modules/{name}.txt"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// One recorded forward pass.
pub struct ShapeRun {
    pub name: String,
    pub tokens: Tokens,
    pub torchinfo_mult_adds: u64,
    pub op_mult_adds: u64,
    /// Each module's own operator mult-adds, where not zero.
    pub op_by_module: BTreeMap<String, u64>,
    /// (path, output shape, dtype) per module call, in hook order.
    pub calls: Vec<(String, Vec<u64>, String)>,
}

fn parse_shape_run(file: &str) -> ShapeRun {
    let stem = file.strip_suffix(".txt").unwrap();
    let (name, size) = stem.rsplit_once('_').unwrap();
    let (batch, seq) = size.split_once('x').unwrap();
    let mut run = ShapeRun {
        name: name.to_string(),
        tokens: Tokens {
            batch: batch.parse().unwrap(),
            seq: seq.parse().unwrap(),
        },
        torchinfo_mult_adds: 0,
        op_mult_adds: 0,
        op_by_module: BTreeMap::new(),
        calls: Vec::new(),
    };
    let root = |p: &str| {
        if p == "-" {
            String::new()
        } else {
            p.to_string()
        }
    };
    for line in fixture(&format!("shapes/{file}")).lines() {
        if let Some(rest) = line.strip_prefix("# torchinfo_mult_adds ") {
            run.torchinfo_mult_adds = rest.parse().unwrap();
        } else if let Some(rest) = line.strip_prefix("# op_mult_adds ") {
            run.op_mult_adds = rest.parse().unwrap();
        } else if let Some(rest) = line.strip_prefix("# op ") {
            let (path, n) = rest.rsplit_once(' ').unwrap();
            run.op_by_module.insert(root(path), n.parse().unwrap());
        } else {
            let f: Vec<&str> = line.split('\t').collect();
            run.calls.push((
                root(f[0]),
                f[1].split(',').map(|d| d.parse().unwrap()).collect(),
                f[2].to_string(),
            ));
        }
    }
    run
}

/// Every recorded forward pass, sorted by file name.
pub fn shape_runs() -> Vec<ShapeRun> {
    let mut files: Vec<String> = std::fs::read_dir(dir().join("shapes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files.iter().map(|f| parse_shape_run(f)).collect()
}

pub fn shape_run(name: &str, batch: u64, seq: u64) -> ShapeRun {
    parse_shape_run(&format!("{name}_{batch}x{seq}.txt"))
}

/// Checks a tree after a forward pass against a recorded one: every module's calls (first output's
/// shape and dtype, in order), and its own operator mult-adds.
pub fn assert_forward_matches(what: &str, root: &ModuleNode, run: &ShapeRun) {
    for (_, node) in root.walk() {
        let theirs: Vec<(&Vec<u64>, &str)> = run
            .calls
            .iter()
            .filter(|c| c.0 == node.path)
            .map(|c| (&c.1, c.2.as_str()))
            .collect();
        let dtypes: Vec<String> = node.calls().map(|o| o[0].dtype.to_string()).collect();
        let ours: Vec<(&Vec<u64>, &str)> = node
            .calls()
            .zip(&dtypes)
            .map(|(o, d)| (&o[0].shape, d.as_str()))
            .collect();
        assert_eq!(ours, theirs, "{what}: calls of '{}'", node.path);
        let op = run.op_by_module.get(&node.path).copied();
        assert_eq!(
            node.op_mult_adds.filter(|&n| n > 0),
            op,
            "{what}: operator mult-adds of '{}'",
            node.path
        );
    }
    let paths: Vec<&str> = root.walk().iter().map(|(_, n)| n.path.as_str()).collect();
    for (path, _, _) in &run.calls {
        assert!(paths.contains(&path.as_str()), "{what}: no module '{path}'");
    }
}
