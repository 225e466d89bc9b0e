//! Recorded-graph files made to make the `.pt2` and ONNX readers do work per reference rather than per
//! byte, or to nest without bound: each must give a summary or one clean error line, within a deadline
//! that only turns a hang into a failure (each answers in well under a second), under a memory cap. The
//! files are built here, in memory, so the repository keeps no megabytes of them.

use std::io::{Cursor, Write};
use std::path::Path;
use tchinfo_core::reports::{csv, json, summary, table::TableOptions};
use tchinfo_core::sources::graph::symbols::SizeRequest;
use tchinfo_core::sources::{onnx, pt2};
use tchinfo_core::summary::ModelSummary;
use zip::write::FileOptions;

mod common;

/// Runs `read` under the common bounds: a summary (then rendered) or one error line naming `label`.
fn bounded(
    name: &str,
    label: &'static str,
    read: impl FnOnce() -> Result<ModelSummary, String> + Send + 'static,
) {
    common::bounded(name, move || match read() {
        Ok(s) => {
            let _ = summary::render(&s, &TableOptions::default());
            let _ = csv::render(&s);
            let _ = json::to_string(&json::summary_json(&s));
            Ok(())
        }
        Err(e) if e.starts_with(&format!("{label}: ")) && e.lines().count() == 1 => Ok(()),
        Err(e) => Err(format!("not one line naming the file: {e:?}")),
    })
}

fn read_onnx(bytes: Vec<u8>) -> Result<ModelSummary, String> {
    onnx::read_from(
        Path::new("h.onnx"),
        Cursor::new(bytes),
        &SizeRequest::default(),
    )
    .map_err(|e| e.to_string())
}

fn read_pt2(program: String, batch: Option<u64>) -> Result<ModelSummary, String> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in [
        ("h/archive_format", b"pt2".to_vec()),
        ("h/models/model.json", program.into_bytes()),
    ] {
        w.start_file(name, FileOptions::default()).unwrap();
        w.write_all(&data).unwrap();
    }
    let zip = w.finish().unwrap().into_inner();
    let request = SizeRequest {
        batch,
        inputs: Vec::new(),
    };
    pt2::read_from(Path::new("h.pt2"), Cursor::new(zip), &request).map_err(|e| e.to_string())
}

// --- a minimal protobuf writer -------------------------------------------------------------------

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, (u64::from(field) << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn field_varint(out: &mut Vec<u8>, field: u32, v: u64) {
    varint(out, u64::from(field) << 3);
    varint(out, v);
}

fn node(inputs: &[&str], output: &str, name: &str, op: &str) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        field_bytes(&mut n, 1, i.as_bytes());
    }
    field_bytes(&mut n, 2, output.as_bytes());
    field_bytes(&mut n, 3, name.as_bytes());
    field_bytes(&mut n, 4, op.as_bytes());
    n
}

fn initializer(name: &str, dims: &[u64]) -> Vec<u8> {
    let mut t = Vec::new();
    for &d in dims {
        field_varint(&mut t, 1, d);
    }
    field_varint(&mut t, 2, 1);
    field_bytes(&mut t, 8, name.as_bytes());
    t
}

fn value_info(name: &str, dims: &[u64]) -> Vec<u8> {
    let mut shape = Vec::new();
    for &d in dims {
        let mut dim = Vec::new();
        field_varint(&mut dim, 1, d);
        field_bytes(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    field_varint(&mut tensor, 1, 1);
    field_bytes(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    field_bytes(&mut ty, 1, &tensor);
    let mut v = Vec::new();
    field_bytes(&mut v, 1, name.as_bytes());
    field_bytes(&mut v, 2, &ty);
    v
}

fn model(graph: Vec<u8>) -> Vec<u8> {
    let mut m = Vec::new();
    field_varint(&mut m, 1, 9);
    field_bytes(&mut m, 2, b"hostile");
    field_bytes(&mut m, 7, &graph);
    m
}

#[test]
fn one_weight_used_by_a_hundred_thousand_modules() {
    // Every node in its own module uses one named weight: each is shown tied, once per module.
    let mut g = Vec::new();
    field_bytes(&mut g, 5, &initializer("w.weight", &[4, 4]));
    field_bytes(&mut g, 11, &value_info("x0", &[1, 4]));
    let n = 100_000;
    for i in 0..n {
        let (x, y) = (format!("x{i}"), format!("x{}", i + 1));
        field_bytes(
            &mut g,
            1,
            &node(&[&x, "w.weight"], &y, &format!("/m{i}/MatMul"), "MatMul"),
        );
        field_bytes(&mut g, 13, &value_info(&y, &[1, 4]));
    }
    field_bytes(&mut g, 12, &value_info(&format!("x{n}"), &[1, 4]));
    bounded("shared weight", "h.onnx", move || read_onnx(model(g)));
}

#[test]
fn a_hundred_thousand_anonymous_weights_in_one_module() {
    let mut g = Vec::new();
    field_bytes(&mut g, 11, &value_info("x0", &[1, 4]));
    for i in 0..100_000 {
        let (x, y, w) = (format!("x{i}"), format!("x{}", i + 1), format!("val_{i}"));
        field_bytes(&mut g, 5, &initializer(&w, &[4, 4]));
        field_bytes(&mut g, 1, &node(&[&x, &w], &y, "/blk/MatMul", "MatMul"));
    }
    bounded("anonymous weights", "h.onnx", move || read_onnx(model(g)));
}

#[test]
fn scopes_nested_past_the_bound_are_refused() {
    let deep = format!("/{}/Relu", vec!["m"; 500].join("/"));
    let mut g = Vec::new();
    field_bytes(&mut g, 11, &value_info("x", &[1]));
    field_bytes(&mut g, 1, &node(&["x"], "y", &deep, "Relu"));
    let e = read_onnx(model(g)).unwrap_err();
    assert!(e.contains("levels"), "{e}");
}

#[test]
fn onnx_lengths_that_lie_are_refused_without_allocating() {
    // A graph field declaring 2^60 bytes, and a name declaring 2^40.
    let mut m = Vec::new();
    field_varint(&mut m, 1, 9);
    varint(&mut m, (7 << 3) | 2);
    varint(&mut m, 1 << 60);
    bounded("huge graph length", "h.onnx", move || read_onnx(m));
    let mut g = Vec::new();
    varint(&mut g, (2 << 3) | 2);
    varint(&mut g, 1 << 40);
    bounded("huge name length", "h.onnx", move || read_onnx(model(g)));
}

/// A program with `nodes` relu nodes, each in a stack of `depth` distinct modules, the sizes written
/// as `expr` over the batch symbol.
fn program(nodes: usize, depth: usize, expr: &str) -> String {
    let sym = "Symbol('s0', positive=True, integer=True)";
    let meta = |size: &str| {
        format!(
            r#"{{"dtype": 7, "sizes": [{size}, {{"as_int": 4}}], "requires_grad": false, "strides": []}}"#
        )
    };
    let batch = format!(r#"{{"as_expr": {{"expr_str": "{sym}", "hint": {{"as_int": 2}}}}}}"#);
    let derived = format!(r#"{{"as_expr": {{"expr_str": "{expr}"}}}}"#);
    let mut values = vec![format!(r#""v0": {}"#, meta(&batch))];
    let mut ns = Vec::new();
    for i in 0..nodes {
        let stack: Vec<String> = (0..depth)
            .map(|d| format!("k{i}_{d},{},mod.M", vec!["m"; d + 1].join(".")))
            .collect();
        ns.push(format!(
            r#"{{"target": "torch.ops.aten.relu.default", "inputs": [{{"name": "self", "arg": {{"as_tensor": {{"name": "v{i}"}}}}}}], "outputs": [{{"as_tensor": {{"name": "v{}"}}}}], "metadata": {{"nn_module_stack": "L__self__,,mod.Root;{}"}}}}"#,
            i + 1,
            stack.join(";")
        ));
        values.push(format!(r#""v{}": {}"#, i + 1, meta(&derived)));
    }
    format!(
        r#"{{"schema_version": {{"major": 8, "minor": 20}}, "graph_module": {{"graph": {{"nodes": [{}], "tensor_values": {{{}}}, "outputs": []}}, "signature": {{"input_specs": [{{"user_input": {{"arg": {{"as_tensor": {{"name": "v0"}}}}}}}}], "output_specs": [{{"user_output": {{"arg": {{"as_tensor": {{"name": "v{nodes}"}}}}}}}}]}}, "module_call_graph": []}}}}"#,
        ns.join(", "),
        values.join(", ")
    )
}

#[test]
fn many_module_calls_and_deep_stacks_are_bounded() {
    // 4,000 nodes, each in its own chain of 50 module calls: 200,000 calls, read; 20,000 such nodes
    // (a million calls from a 30 MB program) are refused before they take a gigabyte.
    let sym = "Symbol('s0', positive=True, integer=True)";
    let p = program(4_000, 50, sym);
    bounded("many calls", "h.pt2", move || read_pt2(p, None));
    let e = read_pt2(program(20_000, 50, sym), None).unwrap_err();
    assert!(e.contains("module calls"), "{e}");
    let deep = program(1, 300, "Symbol('s0', positive=True, integer=True)");
    let e = read_pt2(deep, None).unwrap_err();
    assert!(e.contains("levels"), "{e}");
}

#[test]
fn size_expressions_that_cannot_be_sizes() {
    let nested = format!("{}s0{}", "Max(1, ".repeat(200), ")".repeat(200));
    let huge = "Pow(Integer(10), Integer(60))".to_string();
    for expr in [nested, huge, "FloorDiv(s0, Integer(0))".into(), "s1".into()] {
        let p = program(3, 1, &expr);
        bounded("expressions, example", "h.pt2", {
            let p = p.clone();
            move || read_pt2(p, None)
        });
        bounded("expressions, asked batch", "h.pt2", move || {
            read_pt2(p, Some(7))
        });
    }
    // A long product is one flat list, not deep nesting.
    let long = vec!["s0"; 1000].join("*");
    let e = read_pt2(program(1, 1, &long), Some(2)).unwrap_err();
    assert!(e.contains("cannot be evaluated"), "{e}");
}
