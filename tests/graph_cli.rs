//! `.pt2` and ONNX files through the real binaries: the golden tables, every output format, compare,
//! plan and lint on what the recorded graph says — and the same model's TorchScript file, run through
//! libtorch, agreeing with it module by module.

mod common;
use common::*;
use serde_json::Value as Json;

fn json(args: &[&str]) -> Json {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&run_ok(&all)).expect("JSON output")
}

#[test]
fn pt2_and_onnx_tables_are_golden() {
    let out = run_ok(&["models/resnet_tiny.pt2", "--depth", "9"]);
    assert_golden("resnet_tiny.pt2.out", &out);
    for figure in [
        "Total params: 5,266",
        "Total mult-adds: 4.64 M (4,636,992; counted per operator",
        "│    │    └─ReLU: 3-3              [2, 8, 32, 32] ×2",
        "s77 = 2 (input x, dimension 0)",
    ] {
        assert!(out.contains(figure), "missing {figure:?}");
    }
    let out = run_ok(&["models/tiny_transformer.onnx", "--batch-size", "2"]);
    assert_golden("tiny_transformer.onnx.out", &out);
    assert!(
        out.contains("Total mult-adds: 256.00 k (256,000; counted per operator"),
        "{out}"
    );
}

#[test]
fn every_output_format_reads_recorded_graphs() {
    for file in [
        "models/resnet_tiny.pt2",
        "models/tied_embedding.onnx",
        "models/resnet_tiny_legacy.onnx",
    ] {
        for format in ["table", "json", "csv", "markdown"] {
            let out = run_ok(&[file, "--format", format]);
            assert!(!out.is_empty(), "{file} {format}");
        }
    }
    assert_eq!(json(&["models/resnet_tiny.pt2"])["source"], "torch_export");
    assert_eq!(json(&["models/tied_embedding.onnx"])["source"], "onnx");
    let csv = run_ok(&["models/resnet_tiny.pt2", "--format", "csv"]);
    assert!(csv.contains("layer1.0.relu"), "{csv}");
}

#[test]
fn sizes_are_evaluated_by_the_front_binary_without_libtorch() {
    // --input-size on a recorded graph evaluates its sizes; it does not need the libtorch binary.
    let out = tchinfo(&["models/resnet_tiny.pt2", "--input-size", "7,3,32,32"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("[7, 10]") && text.contains("s77 = 7"),
        "{text}"
    );
    let out = tchinfo(&["models/tied_embedding.pt2", "--batch-size", "4"]);
    assert_clean_error(
        &out,
        1,
        "fixed at 2 in the file (exported without a dynamic batch dimension)",
    );
}

#[test]
fn compare_plan_and_lint_work_on_recorded_graphs() {
    let out = run_ok(&[
        "compare",
        "models/resnet_tiny.pt2",
        "models/resnet_tiny_unoptimized.onnx",
        "models/tiny_transformer.pt2",
    ]);
    assert!(out.contains("5,266") && out.contains("19,460"), "{out}");

    // A plan from the sizes the file records, at any batch its dynamic dimension allows.
    for extra in [&[][..], &["--no-forward"][..]] {
        let mut args = vec!["plan", "models/resnet_tiny.pt2", "--batch-size", "8"];
        args.extend(extra);
        let out = run_ok(&args);
        assert!(out.contains("batch 8"), "{out}");
    }
    let plan = json(&["plan", "models/resnet_tiny.pt2", "--batch-size", "8"]);
    let leaves = |batch: &str| {
        let s = json(&["models/resnet_tiny.pt2", "--batch-size", batch]);
        s["memory"]["activations"]["leaf_output_bytes"]
            .as_u64()
            .unwrap()
    };
    let per_sample = leaves("9") - leaves("8");
    assert!(per_sample > 0);
    assert_eq!(
        plan["activations_per_sample_bytes"].as_u64(),
        Some(per_sample)
    );
    let out = tchinfo(&["plan", "models/tied_embedding.pt2"]);
    assert_clean_error(&out, 1, "fixed at 2");
    // Without intermediate shapes, activations would be counted too small: refused.
    let out = tchinfo(&["plan", "models/resnet_tiny_legacy.onnx"]);
    assert_clean_error(&out, 1, "no shape for some module outputs");

    let lint = run_ok(&["lint", "models/bias_before_bn.pt2"]);
    assert!(
        lint.contains("conv1 (Conv2d)  → bn1 (BatchNorm2d)") && lint.contains("data flow"),
        "{lint}"
    );
    let lint = run_ok(&["lint", "models/resnet_tiny.pt2"]);
    assert!(lint.contains("data flow"), "{lint}");
}

/// Output shapes of every module, by path, from a summary's JSON.
fn module_shapes(s: &Json) -> Vec<(String, Json)> {
    s["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let shapes: Vec<Json> = m["outputs"]
                .as_array()
                .map(|o| o.iter().map(|v| v["shape"].clone()).collect())
                .unwrap_or_default();
            (m["path"].as_str().unwrap().to_string(), Json::from(shapes))
        })
        .collect()
}

/// The same network saved as TorchScript and exported with torch.export: the TorchScript forward pass
/// (libtorch) and the recorded graph (nothing run) give every module the same output shapes and the
/// same operator mult-adds, counted by the same formulas.
#[test]
fn the_recorded_graph_agrees_with_the_torchscript_forward_pass() {
    let cases: [(&[&str], &[&str]); 2] = [
        (
            &[
                "models/resnet_tiny_scripted.pt",
                "--input-size",
                "1,3,32,32",
            ],
            &["models/resnet_tiny.pt2", "--batch-size", "1"],
        ),
        (
            &[
                "models/tiny_transformer.pt",
                "--input-size",
                "1,8",
                "--dtype",
                "i64",
            ],
            &["models/tiny_transformer.pt2", "--batch-size", "1"],
        ),
    ];
    for (torchscript, graph) in cases {
        let ran = json(torchscript);
        let read = json(graph);
        assert_eq!(
            ran["totals"]["op_mult_adds"], read["totals"]["op_mult_adds"],
            "{graph:?}"
        );
        assert_eq!(
            ran["totals"]["mult_adds"], read["totals"]["mult_adds"],
            "{graph:?}"
        );
        let by_path = |s: &Json| {
            s["modules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| (m["path"].clone(), m["op_mult_adds"].as_u64().unwrap_or(0)))
                .collect::<Vec<_>>()
        };
        assert_eq!(by_path(&ran), by_path(&read), "{graph:?}");
        assert_eq!(module_shapes(&ran), module_shapes(&read), "{graph:?}");
    }
}
