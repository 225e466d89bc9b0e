//! The other reports from the real binaries: every format, --output, compare, plan and lint.

mod common;
use common::*;
use serde_json::Value as Json;

const TINY: &[&str] = &["summary", "models/vgg_tiny.pt", "--input-size", "1,3,32,32"];

fn with(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn run_strings(args: &[String]) -> String {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(&refs)
}

fn json(args: &[String]) -> Json {
    serde_json::from_str(&run_strings(args)).expect("valid JSON")
}

#[test]
fn every_format_is_golden() {
    for (format, golden) in [
        ("table", "vgg_tiny.table.out"),
        ("json", "vgg_tiny.json.out"),
        ("csv", "vgg_tiny.csv.out"),
        ("markdown", "vgg_tiny.md.out"),
    ] {
        let out = run_strings(&with(TINY, &["--format", format]));
        let out = out.replace(env!("CARGO_PKG_VERSION"), "VERSION");
        assert_golden(golden, &out);
    }
}

#[test]
fn json_carries_the_tables_numbers_unrounded() {
    let doc = json(&with(TINY, &["--format", "json"]));
    assert_eq!(doc["schema"], "tchinfo/summary");
    assert_eq!(doc["schema_version"], 1);
    let table = run_strings(&TINY.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let total = doc["totals"]["params"].as_u64().unwrap();
    assert!(table.contains(&format!(
        "Total params: {}",
        tchinfo::units::thousands(total)
    )));
    let macs = doc["totals"]["mult_adds"].as_u64().unwrap();
    assert!(
        table.contains(&tchinfo::units::thousands(macs)),
        "mult-adds {macs} in the table"
    );
    let modules = doc["modules"].as_array().unwrap();
    let fc6 = modules
        .iter()
        .find(|m| m["path"] == "classifier.fc6")
        .expect("full module paths");
    assert_eq!(fc6["type"], "Linear");
    assert!(
        fc6["qualified_type"]
            .as_str()
            .unwrap()
            .starts_with("__torch__."),
        "{fc6}"
    );
    assert_eq!(fc6["outputs"][0]["shape"], serde_json::json!([1, 64]));
    let sum: u64 = modules
        .iter()
        .map(|m| m["own_params"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, total);
}

#[test]
fn csv_has_one_row_per_module() {
    let csv = run_strings(&with(TINY, &["--format", "csv"]));
    let doc = json(&with(TINY, &["--format", "json"]));
    assert_eq!(
        csv.lines().count(),
        1 + doc["modules"].as_array().unwrap().len()
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("2,7,classifier.fc6,Linear,")),
        "{csv}"
    );
}

#[test]
fn output_file_is_written_whole_or_not_at_all() {
    let dir = std::env::temp_dir().join(format!("tchinfo-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.json");
    let out = tchinfo(&[
        "models/vgg_tiny.pt",
        "--format",
        "json",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success() && out.stdout.is_empty());
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["totals"]["params"], 10_362);
    // A failing run leaves the earlier report alone and no temporary file behind.
    let out = tchinfo(&["models/no-such.pt", "--output", file.to_str().unwrap()]);
    assert_clean_error(&out, 1, "no-such.pt");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("\"schema\"")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_vgg16_resnet50_googlenet() {
    let out = run_ok(&["compare", "vgg16", "resnet50", "googlenet"]);
    for figure in [
        "138,357,544",
        "25,557,032",
        "13,004,888",
        "123,642,856 (89.4%)",
        "fc6 classifier.0 Linear",
    ] {
        assert!(out.contains(figure), "missing {figure}:\n{out}");
    }
    assert!(out.contains("global average pooling + 1 Linear"));
    assert!(out.contains("fully connected stack of 3 Linear"));
    assert!(
        out.contains("vgg16 has 5.4× the parameters of resnet50"),
        "{out}"
    );
    assert!(out.contains("74.3% of the parameters"), "fc6 alone:\n{out}");
    let doc = json(&["compare", "vgg16", "resnet50", "--format", "json"].map(String::from));
    assert_eq!(doc["schema"], "tchinfo/compare");
    assert_eq!(doc["models"][1]["head"]["params"], 2_049_000);
    assert_eq!(doc["models"][0]["totals"]["params"], 138_357_544);
}

#[test]
fn plan_largest_batch_matches_a_measured_forward_pass() {
    let budget: u64 = 512 << 20;
    let plan =
        json(&["plan", "resnet18", "--budget", "512MiB", "--format", "json"].map(String::from));
    let batch = plan["fit"]["largest_batch"].as_u64().unwrap();
    assert!(batch > 1, "{plan}");
    // Weights, gradients and Adam's two states (×4 in float32) plus every leaf output at that batch.
    let needed_at = |b: u64| {
        let doc = json(
            &[
                "resnet18",
                "--batch-size",
                &b.to_string(),
                "--format",
                "json",
            ]
            .map(String::from),
        );
        doc["memory"]["adam_with_gradients_bytes"].as_u64().unwrap()
            + doc["memory"]["activations"]["leaf_output_bytes"]
                .as_u64()
                .unwrap()
    };
    assert!(needed_at(batch) <= budget, "batch {batch} fits");
    assert!(
        needed_at(batch + 1) > budget,
        "batch {} does not",
        batch + 1
    );
    assert_eq!(plan["total_bytes"].as_u64().unwrap(), needed_at(1));
}

#[test]
fn plan_names_its_conventions_and_what_dominates() {
    let out = run_ok(&[
        "plan",
        "vgg16",
        "--precision",
        "fp16-mixed",
        "--budget",
        "24GiB",
    ]);
    assert!(out.contains("float32 master weights"));
    assert!(out.contains("Dominated by optimizer state"));
    assert!(out.contains("16 B/param for Adam"));
    let out = tchinfo(&["plan", "models/vgg_tiny.pt"]);
    assert_clean_error(&out, 1, "--input-size");
}

#[test]
fn lint_reads_the_data_flow_or_says_it_could_not() {
    let flow = run_ok(&[
        "lint",
        "models/bias_before_bn.pt",
        "--input-size",
        "1,3,32,32",
    ]);
    assert!(flow.contains("found in the data flow"), "{flow}");
    let order = run_ok(&["lint", "models/bias_before_bn.pt"]);
    assert!(order.contains("module order only"), "{order}");
    let reference: Json = serde_json::from_str(
        &std::fs::read_to_string(repo_path("models/reference/bias_before_bn.json")).unwrap(),
    )
    .unwrap();
    let doc = json(
        &[
            "lint",
            "models/bias_before_bn.pt",
            "--input-size",
            "1,3,32,32",
            "--format",
            "json",
        ]
        .map(String::from),
    );
    let layers: Vec<&str> = doc["redundant_biases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["layer"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["conv1"], "{doc}");
    assert_eq!(doc["wasted_params"], 8);
    assert!(
        reference["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "conv1.bias")
    );

    let vgg = run_ok(&["lint", "vgg16_bn"]);
    assert!(
        vgg.contains("13 layers") && vgg.contains("4,224 parameters"),
        "{vgg}"
    );
    let resnet = run_ok(&["lint", "resnet50"]);
    assert!(resnet.contains("no bias feeds a BatchNorm"), "{resnet}");
}
