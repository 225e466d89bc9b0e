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

/// A module called more than once (resnet18's shared ReLUs, built in; bias_before_bn's one ReLU called
/// three times, a TorchScript file) carries its call count and every later call's outputs in JSON and
/// CSV, as eager PyTorch's forward hooks see them.
#[test]
fn repeated_calls_are_in_json_and_csv() {
    let module = |doc: &Json, path: &str| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["path"] == path)
            .unwrap_or_else(|| panic!("no module {path}"))
            .clone()
    };
    let resnet = json(&with(&["resnet18"], &["--format", "json"]));
    let relu = module(&resnet, "layer1.0.relu");
    assert_eq!(relu["calls"], 2);
    assert_eq!(
        relu["repeat_outputs"][0][0]["shape"],
        serde_json::json!([1, 64, 56, 56])
    );
    assert_eq!(module(&resnet, "layer1.0.conv1")["calls"], 1);
    assert_eq!(
        module(&resnet, "layer1.0.conv1")["repeat_outputs"],
        serde_json::json!([])
    );

    let file = ["models/bias_before_bn.pt", "--input-size", "1,3,32,32"];
    let doc = json(&with(&file, &["--format", "json"]));
    let relu = module(&doc, "relu");
    assert_eq!(relu["calls"], 3);
    assert_eq!(
        relu["repeat_outputs"],
        serde_json::json!([
            [{"shape": [1, 8, 32, 32], "dtype": "float32", "bytes": 32768}],
            [{"shape": [1, 16, 32, 32], "dtype": "float32", "bytes": 65536}]
        ])
    );
    let csv = run_strings(&with(&file, &["--format", "csv"]));
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv
        .lines()
        .find(|l| l.contains(",relu,"))
        .unwrap()
        .split(',')
        .collect();
    let cell = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(cell("output_shapes"), "1x8x32x32");
    assert_eq!(cell("calls"), "3");
    assert_eq!(cell("repeat_output_shapes"), "1x8x32x32|1x16x32x32");
}

/// odd_keys.pt's ModuleDict keys hold a line break, a pipe and a comma: Markdown keeps each row and
/// list item on one line (the break is shown escaped, `\n`, as in every text report), CSV quotes the
/// field, JSON escapes the string.
#[test]
fn names_with_line_breaks_keep_every_format_whole() {
    let base = ["models/odd_keys.pt", "--var-names"];
    let md = run_strings(&with(&base, &["--format", "markdown"]));
    for line in md.lines().filter(|l| l.starts_with('|')) {
        assert!(
            line.ends_with('|'),
            "a table row broken in two: {line:?}\n{md}"
        );
    }
    assert!(md.contains("| heads.line\\nbreak | Linear | 20 |"), "{md}");
    assert!(
        md.contains("| heads.pipe\\|and,comma | Linear | 10 |"),
        "{md}"
    );
    assert!(
        md.contains(
            "- **Head**: fully connected stack of 2 Linear (heads.line\\nbreak, heads.pipe|and,comma)"
        ),
        "{md}"
    );
    let csv = run_strings(&with(&base, &["--format", "csv"]));
    assert!(csv.contains(",\"heads.line\nbreak\",Linear,"), "{csv}");
    assert!(csv.contains(",\"heads.pipe|and,comma\",Linear,"), "{csv}");
    let doc = json(&with(&base, &["--format", "json"]));
    let paths: Vec<&str> = doc["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["", "heads", "heads.line\nbreak", "heads.pipe|and,comma"]
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
        "6,624,904",
        "123,642,856 (89.4%)",
        "fc6 classifier.0 Linear",
    ] {
        assert!(out.contains(figure), "missing {figure}:\n{out}");
    }
    // Three models fit 120 columns: the heads' descriptions wrap inside their cells.
    assert!(out.contains("global average pooling + 1"), "{out}");
    assert!(out.contains("fully connected stack of 3"), "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 120), "{out}");
    assert!(
        out.contains("vgg16 has 5.4× the parameters of resnet50"),
        "{out}"
    );
    assert!(out.contains("74.3% of the parameters"), "fc6 alone:\n{out}");
    assert!(
        out.contains(
            "By operator mult-adds, cheapest first: googlenet 1.50 G, resnet50 4.09 G (2.7×), \
             vgg16 15.47 G (10.3×)."
        ),
        "{out}"
    );
    let doc = json(&["compare", "vgg16", "resnet50", "--format", "json"].map(String::from));
    assert_eq!(doc["schema"], "tchinfo/compare");
    assert_eq!(doc["models"][1]["head"]["params"], 2_049_000);
    assert_eq!(
        doc["models"][1]["head"]["description"],
        "global average pooling + 1 Linear"
    );
    assert_eq!(
        doc["models"][0]["head"]["description"],
        "fully connected stack of 3 Linear"
    );
    assert_eq!(doc["models"][0]["totals"]["params"], 138_357_544);
}

/// compare's CSV carries raw counts and bytes, and each model's share of its parameters in a column
/// of its own, not the table's rounded display strings.
#[test]
fn compare_csv_carries_raw_numbers() {
    let csv = run_ok(&[
        "compare",
        "models/vgg_tiny.pt",
        "models/resnet_tiny_scripted.pt",
        "--format",
        "csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "metric,unit,models/vgg_tiny.pt,models/vgg_tiny.pt share,\
         models/resnet_tiny_scripted.pt,models/resnet_tiny_scripted.pt share"
    );
    for row in [
        "Total params,params,10362,,5266,".to_string(),
        // Shares are written as JSON writes them: the percentage over 100, to the last digit.
        format!(
            "Linear,params,8970,{},170,{}",
            8970.0 / 10362.0 * 100.0 / 100.0,
            170.0 / 5266.0 * 100.0 / 100.0
        ),
        "\"Weights, float32\",bytes,41448,,21064,".to_string(),
        "Head,,fully connected stack of 3 Linear,,global average pooling + 1 Linear,".to_string(),
    ] {
        assert!(lines.contains(&row.as_str()), "missing {row:?}:\n{csv}");
    }
    assert!(
        !csv.contains("10,362") && !csv.contains("KiB") && !csv.contains('%'),
        "{csv}"
    );
}

#[test]
fn plan_largest_batch_fits_and_one_more_does_not() {
    let budget: u64 = 512 << 20;
    let plan =
        json(&["plan", "resnet18", "--budget", "512MiB", "--format", "json"].map(String::from));
    let batch = plan["fit"]["largest_batch"].as_u64().unwrap();
    assert!(batch > 1, "{plan}");
    // The peak of a step planned at that batch, and at one more, each measured afresh.
    let peak_at = |b: u64| {
        let doc = json(
            &[
                "plan",
                "resnet18",
                "--batch-size",
                &b.to_string(),
                "--format",
                "json",
            ]
            .map(String::from),
        );
        doc["total_bytes"].as_u64().unwrap()
    };
    assert!(peak_at(batch) <= budget, "batch {batch} fits");
    assert!(peak_at(batch + 1) > budget, "batch {} does not", batch + 1);
    assert_eq!(plan["fit"]["total_bytes"].as_u64().unwrap(), peak_at(batch));
    assert_eq!(plan["activations"]["source"], "measured");
}

#[test]
fn plan_names_its_conventions_and_its_peak_phase() {
    let out = run_ok(&[
        "plan",
        "vgg16",
        "--precision",
        "fp16-mixed",
        "--budget",
        "24GiB",
    ]);
    assert!(out.contains("float32 master weights"));
    // VGG-16 at batch 1: the optimizer step (state + gradients + the update of fc6) is the peak.
    assert!(
        out.contains("The peak is the optimizer step phase"),
        "{out}"
    );
    for convention in ["16 B/param", "18 B/param", "20 B/param"] {
        assert!(out.contains(convention), "{out}");
    }
    assert!(out.contains("Not included: the CUDA context"), "{out}");
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

fn plan_json(model: &str, input: &str, extra: &[&str]) -> Json {
    let base = ["plan", model, "--input-size", input, "--format", "json"];
    json(&with(&base, extra))
}

#[test]
fn plan_gives_frozen_parameters_no_gradients_or_optimizer_state() {
    let reference = reference("frozen_backbone");
    let params = reference["total_params"].as_u64().unwrap();
    let trainable = reference["trainable_params"].as_u64().unwrap();
    assert!(trainable < params, "the sample has frozen parameters");
    let model = "models/frozen_backbone.pt";
    let doc = plan_json(model, "1,3,32,32", &[]);
    assert_eq!(doc["params"], params);
    assert_eq!(doc["trainable_params"], trainable);
    assert_eq!(doc["weights_bytes"], 4 * params);
    assert_eq!(doc["gradients_bytes"], 4 * trainable);
    assert_eq!(doc["optimizer_state_bytes"], 8 * trainable);
    let mixed = plan_json(model, "1,3,32,32", &["--precision", "bf16-mixed"]);
    assert_eq!(mixed["weights_bytes"], 2 * params);
    assert_eq!(mixed["gradients_bytes"], 2 * trainable);
    assert_eq!(mixed["optimizer_state_bytes"], 8 * trainable);
    assert_eq!(mixed["master_weights_bytes"], 4 * trainable);
    let text = run_ok(&["plan", model, "--input-size", "1,3,32,32"]);
    assert!(
        text.contains(&format!("gradients ({} trainable params)", trainable)),
        "{text}"
    );
}

/// Elements of every leaf module's outputs, as eager PyTorch recorded them.
fn leaf_output_elements(reference: &Json) -> u64 {
    let modules = reference["modules"].as_array().unwrap();
    let paths: Vec<&str> = modules
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    modules
        .iter()
        .filter(|m| {
            let path = m["path"].as_str().unwrap();
            !paths
                .iter()
                .any(|p| p.starts_with(&format!("{path}.")) || (path.is_empty() && !p.is_empty()))
        })
        .flat_map(|m| m["output_shapes"].as_array().unwrap())
        .map(|shape| {
            shape
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .product::<u64>()
        })
        .sum()
}

#[test]
fn plan_counts_activations_at_its_precision_whatever_dtype_the_run_used() {
    let elements = leaf_output_elements(&reference("half_mlp"));
    assert!(elements > 0);
    let half = ["--dtype", "f16"];
    let fp32 = plan_json("models/half_mlp.pt", "1,16", &half);
    assert_eq!(fp32["activations_bytes"], 4 * elements, "{fp32}");
    assert_eq!(fp32["activations_per_sample_bytes"], 4 * elements);
    assert_eq!(
        fp32["measured"][0]["activations_as_run_bytes"],
        2 * elements
    );
    let mixed = plan_json(
        "models/half_mlp.pt",
        "1,16",
        &["--dtype", "f16", "--precision", "fp16-mixed"],
    );
    assert_eq!(mixed["activations_bytes"], 2 * elements, "{mixed}");
    let text = run_ok(&[
        "plan",
        "models/half_mlp.pt",
        "--input-size",
        "1,16",
        "--dtype",
        "f16",
    ]);
    assert!(
        text.contains(&format!(
            "Activations measured at batch 1 ({} B) and 2 ({} B) as run in float16; counted in float32",
            2 * elements,
            4 * elements
        )),
        "{text}"
    );
}

#[test]
fn plan_takes_the_batch_of_the_input_size_unless_given_one() {
    let doc = plan_json("models/vgg_tiny.pt", "4,3,32,32", &[]);
    assert_eq!(doc["batch_size"], 4);
    // Training steps are measured at batches 1 and 2 and extended to the batch planned.
    let runs = doc["activations"]["runs"].as_array().unwrap();
    assert_eq!(
        (runs[0]["batch"].as_u64(), runs[1]["batch"].as_u64()),
        (Some(1), Some(2))
    );
    let at_one = plan_json("models/vgg_tiny.pt", "1,3,32,32", &[]);
    assert_eq!(
        doc["activations_bytes"].as_u64().unwrap(),
        4 * at_one["activations_bytes"].as_u64().unwrap()
    );
    let given = plan_json("models/vgg_tiny.pt", "4,3,32,32", &["--batch-size", "2"]);
    assert_eq!(given["batch_size"], 2);
}

#[test]
fn plan_and_lint_take_every_format() {
    let plan = ["plan", "models/vgg_tiny.pt", "--input-size", "1,3,32,32"];
    let md = run_strings(&with(&plan, &["--format", "markdown"]));
    assert!(
        md.starts_with("## Training plan for models/vgg_tiny.pt"),
        "{md}"
    );
    // What autograd holds for backward (PyTorch's saved tensors, 100,096 B at batch 1).
    assert!(
        md.contains(
            "| activations held for backward, batch 1 (4 B per element) | 97.75 KiB | 100.10 KB |"
        ),
        "{md}"
    );
    let csv = run_strings(&with(&plan, &["--format", "csv"]));
    assert!(csv.starts_with("quantity,value\n"), "{csv}");
    assert!(csv.contains("\nactivations_bytes,100096\n"), "{csv}");
    let lint = [
        "lint",
        "models/bias_before_bn.pt",
        "--input-size",
        "1,3,32,32",
    ];
    let md = run_strings(&with(&lint, &["--format", "markdown"]));
    assert!(
        md.contains("| conv1 (Conv2d) | bn1 (BatchNorm2d) | 8 | 32 B |"),
        "{md}"
    );
    let csv = run_strings(&with(&lint, &["--format", "csv"]));
    assert_eq!(
        csv.lines().nth(1),
        Some("conv1,Conv2d,bn1,BatchNorm2d,8,32,data_flow"),
        "{csv}"
    );
}

#[test]
fn budget_takes_scientific_notation_and_is_echoed_in_both_units() {
    let plan = ["plan", "models/vgg_tiny.pt", "--input-size", "1,3,32,32"];
    let text = run_strings(&with(&plan, &["--budget", "1e9"]));
    assert!(text.contains("Budget 953.67 MiB (1.00 GB): "), "{text}");
    let doc = json(&with(&plan, &["--budget", "1e9", "--format", "json"]));
    assert_eq!(doc["budget_bytes"], 1_000_000_000);
}
