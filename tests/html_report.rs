//! The HTML report, opened in a real headless Chromium: every figure the page shows is the JSON report's,
//! the layer table is the text table's, the treemap's areas are the parameters (VGG-16's fc6: 74.27%), the
//! plan's pictures match its numbers, hostile names stay text, and nothing reaches the console or the
//! network. Screenshots go to target/tmp/html-report/.

mod browser;
mod common;

use browser::{Browser, Page};
use common::*;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tchinfo::units::{binary, decimal, si, thousands};

/// One browser at a time: the machine is shared, and each test already runs a model.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn owned(args: &[&str], extra: &[&str]) -> Vec<String> {
    args.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn run_strings(args: &[String]) -> String {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(&refs)
}

/// Writes `args … --format html -o <name>.html` and returns its path with the JSON report of the same
/// arguments.
fn report(name: &str, args: &[&str]) -> (PathBuf, Json) {
    let path = out_dir().join(format!("{name}.html"));
    let out = run_strings(&owned(
        args,
        &["--format", "html", "-o", path.to_str().unwrap()],
    ));
    assert!(out.is_empty(), "-o leaves stdout empty");
    let json = run_strings(&owned(args, &["--format", "json"]));
    (path, serde_json::from_str(&json).expect("JSON report"))
}

/// The document embedded in a report page.
fn embedded(path: &Path) -> Json {
    let html = std::fs::read_to_string(path).unwrap();
    let open = r#"<script type="application/json" id="tchinfo-data">"#;
    let start = html.find(open).expect("the data element") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).expect("the embedded JSON parses")
}

/// How the page must write the JSON value at a figure's key (the text reports' own formatters).
fn expected(value: &Json, format: &str) -> String {
    if value.is_null() {
        let text = if matches!(format, "binary" | "decimal") {
            "overflows 64 bits"
        } else {
            "--"
        };
        return text.to_string();
    }
    let int = || {
        value
            .as_u64()
            .unwrap_or_else(|| panic!("{value} is a count"))
    };
    let share = || value.as_f64().unwrap() * 100.0;
    match format {
        "int" => thousands(int()),
        "binary" => binary(int()),
        "decimal" => decimal(int()),
        "si" => si(int()),
        "pct1" => format!("{:.1}%", share()),
        "pct2" => format!("{:.2}%", share()),
        "text" => value.as_str().unwrap().to_string(),
        other => panic!("unknown figure format {other}"),
    }
}

/// Every figure in the page (each names the JSON path it shows) equals the JSON report's value, written
/// as the text report writes it. Returns the keys checked.
fn check_figures(page: &mut Page, doc: &Json) -> Vec<String> {
    let figures = page.eval(
        "[...document.querySelectorAll('[data-key]')].map(e => \
         [e.getAttribute('data-key'), e.getAttribute('data-format'), e.textContent.trim()])",
    );
    let figures = figures.as_array().unwrap();
    assert!(!figures.is_empty(), "the page shows figures");
    let mut keys = Vec::new();
    for f in figures {
        let (key, format, text) = (
            f[0].as_str().unwrap(),
            f[1].as_str().unwrap(),
            f[2].as_str().unwrap(),
        );
        let value = doc
            .pointer(&format!("/{key}"))
            .unwrap_or_else(|| panic!("the page shows {key}, which the JSON report lacks"));
        assert_eq!(text, expected(value, format), "figure {key} ({format})");
        keys.push(key.to_string());
    }
    keys
}

fn assert_shows(keys: &[String], required: &[&str]) {
    for key in required {
        assert!(
            keys.iter().any(|k| k == key),
            "the page does not show {key}"
        );
    }
}

/// Nothing on the console, no exception, no CSP violation, no request but the report itself.
fn assert_clean(page: &mut Page, path: &Path) {
    let problems = page.console_problems();
    assert!(problems.is_empty(), "console: {problems:#?}");
    let url = browser::file_url(path);
    let requests = page.requests();
    assert!(requests.contains(&url), "{url} was opened: {requests:#?}");
    // Only report pages this tab opened, nothing they might have asked for.
    let reports = browser::file_url(&out_dir());
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with(&reports) && r.ends_with(".html")),
        "the page loaded something else: {requests:#?}"
    );
}

/// The first pipe table of a Markdown report: header and rows, cells as the text table prints them.
fn markdown_table(md: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let lines: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    let cells = |line: &str| -> Vec<String> {
        line.trim_start_matches("| ")
            .trim_end_matches(" |")
            .split(" | ")
            .map(|c| c.replace('\u{a0}', " ").trim().to_string())
            .collect()
    };
    (
        cells(lines[0]),
        lines[2..].iter().map(|l| cells(l)).collect(),
    )
}

/// The rows of the page's layer table.
fn page_rows(page: &mut Page) -> Vec<Vec<String>> {
    let rows = page.eval(
        "[...document.querySelectorAll('#layers tbody tr')].map(tr => \
         [...tr.cells].map(td => td.textContent.trim()))",
    );
    serde_json::from_value(rows).unwrap()
}

/// The page's table at `depth` holds the text table's rows at `--depth depth`, cell for cell (the tree
/// glyphs and the percent bars aside, which the page draws its own way); with no depth, the table as the
/// page opens and the text table by default.
fn check_table_against_text(page: &mut Page, args: &[&str], depth: Option<usize>) {
    let mut md_args = vec!["--format", "markdown"];
    let depth_text = depth.map(|d| d.to_string());
    if let Some(depth) = &depth_text {
        // The picker offers the depths the model has; deeper ones show the same as its deepest.
        page.eval(&format!(
            "(() => {{ const d = document.getElementById('depth'); \
             d.value = String(Math.min({depth}, d.options.length - 1)); \
             d.dispatchEvent(new Event('change')); }})()"
        ));
        md_args.extend(["--depth", depth]);
    }
    let md = run_strings(&owned(args, &md_args));
    let (header, text_rows) = markdown_table(&md);
    assert_eq!(
        header,
        [
            "Layer (type:depth-idx)",
            "Output Shape",
            "Param #",
            "Param %",
            "Mult-Adds (ops)",
            "Trainable"
        ]
    );
    let rows = page_rows(page);
    assert_eq!(rows.len(), text_rows.len(), "rows at depth {depth:?}");
    for (row, text) in rows.iter().zip(&text_rows) {
        let label = text[0].trim_start_matches(|c: char| "│└├─|`- ".contains(c));
        let percent = text[3].split_whitespace().next().unwrap_or("");
        let from_text = [label, &text[1], &text[2], percent, &text[4], &text[5]];
        let from_page = [&row[0], &row[2], &row[3], &row[4], &row[5], &row[6]];
        for (p, t) in from_page.iter().zip(from_text) {
            assert_eq!(
                p.as_str(),
                t,
                "depth {depth:?}, row {row:?} against {text:?}"
            );
        }
    }
}

/// Each treemap box: its module path, whether it holds a container's own parameters, and its area as
/// drawn (its SVG bounding box); with the area of the whole map (the SVG's view box). Both in the
/// drawing's units: the page's CSS pixels would add layout's 1/64-pixel rounding.
fn treemap_boxes(page: &mut Page, svg: &str) -> (f64, Vec<(String, bool, f64)>) {
    let sel = serde_json::to_string(svg).unwrap();
    let geometry = page.eval(&format!(
        "(() => {{ const svg = document.querySelector({sel}); const v = svg.viewBox.baseVal; \
         return [v.width * v.height, [...svg.querySelectorAll('rect.box')].map(r => {{ \
         const b = r.getBBox(); \
         return [r.getAttribute('data-path'), r.hasAttribute('data-own'), b.width * b.height]; }})]; }})()"
    ));
    let boxes = geometry[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b[0].as_str().unwrap().to_string(),
                b[1].as_bool().unwrap(),
                b[2].as_f64().unwrap(),
            )
        })
        .collect();
    (geometry[0].as_f64().unwrap(), boxes)
}

fn module<'a>(doc: &'a Json, path: &str) -> &'a Json {
    doc["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == path)
        .unwrap_or_else(|| panic!("no module {path}"))
}

/// The boxes tile the map, and each box's share of the area is its share of the parameters (its
/// subtree's, or a container's own). Returns each box's share by path (own boxes as `path (own)`).
fn check_treemap_areas(page: &mut Page, doc: &Json, svg: &str, total: u64) -> Vec<(String, f64)> {
    let (area, boxes) = treemap_boxes(page, svg);
    assert!(area > 0.0 && !boxes.is_empty());
    let covered: f64 = boxes.iter().map(|b| b.2).sum();
    assert!(
        (covered / area - 1.0).abs() < 1e-6,
        "boxes cover {covered} of {area}"
    );
    boxes
        .into_iter()
        .map(|(path, own, box_area)| {
            let m = module(doc, &path);
            let key = if own { "own_params" } else { "subtree_params" };
            let params = m[key].as_u64().unwrap() as f64;
            let share = box_area / area;
            assert!(
                (share - params / total as f64).abs() < 1e-6,
                "{path}: area share {share} for {params} of {total} parameters"
            );
            (if own { format!("{path} (own)") } else { path }, share)
        })
        .collect()
}

#[test]
fn vgg16_page_shows_the_json_and_fc6_covers_three_quarters_of_the_treemap() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let args = ["summary", "vgg16"];
    let (path, doc) = report("vgg16", &args);
    assert_eq!(
        embedded(&path),
        doc,
        "the page embeds the JSON report itself"
    );
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900);
    page.open(&path);

    let keys = check_figures(&mut page, &doc);
    assert_shows(
        &keys,
        &[
            "totals/params",
            "totals/trainable_params",
            "totals/mult_adds",
            "totals/op_mult_adds",
            "params_by_role/0/params",
            "params_by_role/0/share",
            "largest_layers/0/params",
            "head/params",
            "memory/weights_float32_bytes",
            "memory/adam_with_gradients_bytes",
            "memory/activations/torchinfo_forward_backward_bytes",
        ],
    );
    assert_eq!(
        page.eval("document.querySelector('[data-key=\"totals/params\"]').textContent"),
        "138,357,544"
    );

    // The bar: fc6's box is 74% of the treemap, ±1 point — exactly its 102,764,544 of 138,357,544.
    let total = doc["totals"]["params"].as_u64().unwrap();
    let shares = check_treemap_areas(&mut page, &doc, "svg.treemap", total);
    let fc6 = shares.iter().find(|s| s.0 == "classifier.0").unwrap().1;
    assert!((fc6 - 0.74).abs() <= 0.01, "fc6 covers {fc6}");
    assert!((fc6 - 102_764_544.0 / 138_357_544.0).abs() < 1e-6);
    assert_eq!(shares.len(), 16, "13 convolutions and 3 Linear layers");

    // Hover: path, type, parameters, share and output shape.
    let (x, y) = page.centre_of("rect.box[data-path='classifier.0']");
    page.mouse_move(x, y);
    let tip = page.eval("document.getElementById('tooltip').hidden ? null : document.getElementById('tooltip').textContent");
    let tip = tip.as_str().expect("a tooltip on hover");
    for part in [
        "fc6 (classifier.0)",
        "Linear",
        "102,764,544 parameters",
        "74.27%",
        "[1, 4096]",
    ] {
        assert!(tip.contains(part), "{part} in the tooltip {tip:?}");
    }

    // Click zooms into the block, whose boxes then tile the whole map; Escape zooms back out.
    let (x, y) = page.centre_of("rect.box[data-path='features.28']");
    page.click(x, y);
    let crumbs = |page: &mut Page| {
        page.eval("[...document.querySelectorAll('.crumb')].map(b => b.textContent)")
    };
    assert_eq!(crumbs(&mut page), serde_json::json!(["VGG", "features"]));
    let features = doc_subtree(&doc, "features");
    let shares = check_treemap_areas(&mut page, &doc, "svg.treemap", features);
    assert_eq!(shares.len(), 13);
    assert!(shares.iter().all(|s| s.0.starts_with("features.")));
    page.key("Escape");
    assert_eq!(crumbs(&mut page), serde_json::json!(["VGG"]));
    check_treemap_areas(&mut page, &doc, "svg.treemap", total);

    // The table: the text table's rows at the default depth and at depth 1.
    check_table_against_text(&mut page, &args, None);
    check_table_against_text(&mut page, &args, Some(1));
    check_table_against_text(&mut page, &args, Some(2));
    // Sorting by parameters puts fc6 first, then the other way round, then back to tree order.
    let first = |page: &mut Page| page_rows(page)[0][1].clone();
    let (x, y) = page.centre_of("#layers th:nth-child(4) button");
    page.click(x, y);
    assert_eq!(first(&mut page), "classifier.0");
    let rows = page_rows(&mut page);
    assert_eq!(rows[1][1], "classifier.3");
    page.click(x, y);
    assert_eq!(page_rows(&mut page).last().unwrap()[1], "classifier.0");
    page.click(x, y);
    assert_eq!(first(&mut page), "(root)");

    // The README shows this one (docs/img/html-report-vgg16.png).
    page.screenshot(&out_dir().join("vgg16.png"), 800);
    assert_clean(&mut page, &path);
}

fn doc_subtree(doc: &Json, path: &str) -> u64 {
    module(doc, path)["subtree_params"].as_u64().unwrap()
}

#[test]
fn resnet50_page_shows_the_json_and_the_text_table() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let args = ["summary", "resnet50"];
    let (path, doc) = report("resnet50", &args);
    assert_eq!(embedded(&path), doc);
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900);
    page.open(&path);
    let keys = check_figures(&mut page, &doc);
    assert_shows(
        &keys,
        &[
            "totals/params",
            "totals/buffers",
            "head/params",
            "memory/buffers_stored_bytes",
        ],
    );
    let total = doc["totals"]["params"].as_u64().unwrap();
    let shares = check_treemap_areas(&mut page, &doc, "svg.treemap", total);
    // Its mass sits in layer3 and layer4.
    let deep: f64 = shares
        .iter()
        .filter(|s| s.0.starts_with("layer3.") || s.0.starts_with("layer4."))
        .map(|s| s.1)
        .sum();
    assert!(deep > 0.8, "layer3 + layer4 hold {deep}");
    check_table_against_text(&mut page, &args, None);
    check_table_against_text(&mut page, &args, Some(1));
    page.screenshot(&out_dir().join("resnet50.png"), 1000);
    assert_clean(&mut page, &path);
}

/// A transformer: attention, feed-forward, an embedding, and parameters on containers themselves (the
/// root's positional parameter, MultiheadAttention's in_proj_weight) as boxes of their own.
#[test]
fn transformer_page_draws_the_parameters_of_containers_too() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let args = [
        "summary",
        "models/tiny_transformer.pt",
        "--input-size",
        "1,8",
        "--dtype",
        "i64",
    ];
    let (path, doc) = report("tiny_transformer", &args);
    assert_eq!(embedded(&path), doc);
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900);
    page.open(&path);
    check_figures(&mut page, &doc);
    let total = doc["totals"]["params"].as_u64().unwrap();
    let shares = check_treemap_areas(&mut page, &doc, "svg.treemap", total);
    let names: Vec<&str> = shares.iter().map(|s| s.0.as_str()).collect();
    for name in [
        " (own)",
        "attn (own)",
        "attn.out_proj",
        "ff.0",
        "embed",
        "head",
    ] {
        assert!(names.contains(&name), "no box {name:?} in {names:?}");
    }
    check_table_against_text(&mut page, &args, None);
    check_table_against_text(&mut page, &args, Some(1));
    page.screenshot(&out_dir().join("tiny_transformer.png"), 1000);
    assert_clean(&mut page, &path);

    // --depth is how the page's table opens.
    let folded = owned(&args, &["--depth", "1"]);
    let folded: Vec<&str> = folded.iter().map(String::as_str).collect();
    let (path, _) = report("tiny_transformer_depth1", &folded);
    page.open(&path);
    assert_eq!(page.eval("document.getElementById('depth').value"), "1");
    check_table_against_text(&mut page, &folded, None);
    assert_clean(&mut page, &path);
}

/// The plan: the stacked bar's parts in proportion to the JSON's bytes; on the chart, the planned and
/// the largest batch sit where the JSON's totals put them, and the budget line where its bytes do.
#[test]
fn plan_page_draws_its_numbers() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let args = [
        "plan",
        "resnet18",
        "--batch-size",
        "8",
        "--optimizer",
        "adamw",
        "--precision",
        "bf16-mixed",
        "--budget",
        "2GiB",
    ];
    let (path, doc) = report("plan_resnet18", &args);
    assert_eq!(embedded(&path), doc);
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900);
    page.open(&path);
    let keys = check_figures(&mut page, &doc);
    assert_shows(
        &keys,
        &[
            "weights_bytes",
            "gradients_bytes",
            "optimizer_state_bytes",
            "master_weights_bytes",
            "activations_bytes",
            "total_bytes",
            "budget_bytes",
            "fit/largest_batch",
            "fit/total_bytes",
            "batch_size",
        ],
    );

    let parts = page.eval(
        "[...document.querySelectorAll('#plan-bar rect[data-part]')].map(r => \
         [r.getAttribute('data-part'), r.getBoundingClientRect().width])",
    );
    let parts = parts.as_array().unwrap();
    assert_eq!(parts.len(), 5, "{parts:?}");
    let width: f64 = parts.iter().map(|p| p[1].as_f64().unwrap()).sum();
    let total = doc["total_bytes"].as_u64().unwrap() as f64;
    // The bar stacks the parts; a training plan's total is its step's peak, the highest phase.
    let sum: f64 = parts
        .iter()
        .map(|p| doc[p[0].as_str().unwrap()].as_u64().unwrap() as f64)
        .sum();
    for p in parts {
        let bytes = doc[p[0].as_str().unwrap()].as_u64().unwrap() as f64;
        let share = p[1].as_f64().unwrap() / width;
        assert!(
            (share - bytes / sum).abs() < 1e-6,
            "{p}: {share} against {}",
            bytes / sum
        );
    }

    let dot = |page: &mut Page, id: &str| {
        let d = page.eval(&format!(
            "(() => {{ const c = document.getElementById('{id}'); \
             return [Number(c.getAttribute('data-batch')), c.cy.baseVal.value]; }})()"
        ));
        (d[0].as_f64().unwrap(), d[1].as_f64().unwrap())
    };
    let (planned, y_planned) = dot(&mut page, "planned");
    let (largest, y_largest) = dot(&mut page, "largest");
    assert_eq!(planned, 8.0);
    assert_eq!(largest, doc["fit"]["largest_batch"].as_f64().unwrap());
    // y = base − k × bytes: the two dots fix base and k; the budget line must sit at the budget's bytes.
    let (v_planned, v_largest) = (total, doc["fit"]["total_bytes"].as_f64().unwrap());
    let k = (y_planned - y_largest) / (v_largest - v_planned);
    let base = y_planned + k * v_planned;
    let budget = doc["budget_bytes"].as_f64().unwrap();
    let y_budget = page.eval("document.getElementById('chart-budget').y1.baseVal.value");
    let y_budget = y_budget.as_f64().unwrap();
    assert!(
        (base - k * budget - y_budget).abs() < 0.5,
        "budget line at {y_budget}"
    );
    // The largest batch fits under the line and one more does not (y grows downwards).
    let per_batch = (y_largest - y_planned) / (largest - planned);
    assert!(y_largest >= y_budget - 1e-9);
    assert!(y_largest + per_batch < y_budget);

    page.screenshot(&out_dir().join("plan_resnet18.png"), 1000);
    assert_clean(&mut page, &path);
}

/// A plan for inference without a budget (no fit, no gradients) draws what it has, and no error.
#[test]
fn plan_page_without_a_budget() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let args = [
        "plan",
        "models/vgg_tiny.pt",
        "--input-size",
        "1,3,32,32",
        "--inference",
    ];
    let (path, doc) = report("plan_vgg_tiny_inference", &args);
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900);
    page.open(&path);
    let keys = check_figures(&mut page, &doc);
    assert_shows(
        &keys,
        &["weights_bytes", "activations_bytes", "total_bytes"],
    );
    assert_eq!(page.eval("document.getElementById('largest')"), Json::Null);
    assert_eq!(
        page.eval("document.querySelectorAll('#plan-bar rect[data-part]').length"),
        2
    );
    assert_clean(&mut page, &path);
}

/// Compare: bars and treemaps on one scale, the rows of the text comparison, all from the compare JSON.
#[test]
fn compare_page_draws_the_models_to_one_scale() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let args = ["compare", "vgg16", "resnet50"];
    let (path, doc) = report("compare_vgg16_resnet50", &args);
    let mut inside = embedded(&path);
    for m in inside["models"].as_array_mut().unwrap() {
        assert!(m["modules"].as_array().is_some_and(|a| !a.is_empty()));
        m.as_object_mut().unwrap().remove("modules");
    }
    assert_eq!(inside, doc, "the compare JSON, with each model's modules");
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900);
    page.open(&path);
    let keys = check_figures(&mut page, &doc);
    assert_shows(
        &keys,
        &[
            "models/0/totals/params",
            "models/1/totals/params",
            "models/0/params_by_role/0/share",
            "models/1/head/params",
            "models/1/memory/adam_with_gradients_bytes",
        ],
    );
    let params: Vec<f64> = (0..2)
        .map(|i| doc["models"][i]["totals"]["params"].as_f64().unwrap())
        .collect();
    // Treemaps: areas in proportion to the parameters.
    let areas = page.eval(
        "[...document.querySelectorAll('svg.treemap.to-scale')].map(s => { \
         const r = s.getBoundingClientRect(); return r.width * r.height; })",
    );
    let areas: Vec<f64> = serde_json::from_value(areas).unwrap();
    assert_eq!(areas.len(), 2);
    assert!(
        ((areas[1] / areas[0]) / (params[1] / params[0]) - 1.0).abs() < 0.01,
        "{areas:?}"
    );
    for i in 0..2 {
        let model = &doc["models"][i];
        let total = model["totals"]["params"].as_u64().unwrap();
        let full = embedded(&path)["models"][i].clone();
        check_treemap_areas(
            &mut page,
            &full,
            &format!("svg.treemap[data-index='{i}']"),
            total,
        );
    }
    // Bars: lengths in proportion to the parameters, each role's segment its params_by_role share.
    let segments = page.eval(
        "[...document.querySelectorAll('#kind-bars rect.segment')].map(r => \
         [Number(r.getAttribute('data-model')), r.getAttribute('data-key-name'), r.getBoundingClientRect().width])",
    );
    let segments = segments.as_array().unwrap();
    let length = |i: usize| -> f64 {
        segments
            .iter()
            .filter(|s| s[0] == i)
            .map(|s| s[2].as_f64().unwrap())
            .sum()
    };
    assert!(((length(1) / length(0)) / (params[1] / params[0]) - 1.0).abs() < 1e-6);
    for s in segments {
        let i = s[0].as_u64().unwrap() as usize;
        let role = doc["models"][i]["params_by_role"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == s[1])
            .unwrap_or_else(|| panic!("{s}: a role of the JSON"));
        let share = s[2].as_f64().unwrap() / length(i);
        assert!(
            (share - role["share"].as_f64().unwrap()).abs() < 1e-6,
            "{s}"
        );
    }
    page.screenshot(&out_dir().join("compare_vgg16_resnet50.png"), 1000);
    assert_clean(&mut page, &path);
}

/// Module names and file names from a stranger's file stay text: no markup, no script, and the page's
/// Content-Security-Policy would stop an inline script anyway.
#[test]
fn hostile_names_stay_text() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = out_dir().join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("<img src=x onerror=pwned=3>.pt");
    std::fs::copy(repo_path("models/hostile_names.pt"), &file).unwrap();
    let file = file.to_str().unwrap();
    let (path, doc) = report("hostile_names", &["summary", file]);
    let html = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        html.matches("</script>").count(),
        3,
        "only the page's own three"
    );
    assert!(!html.contains("<img") && !html.contains("<!--"));
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900);
    page.open(&path);
    check_figures(&mut page, &doc);
    assert_eq!(page.eval("typeof window.pwned"), "undefined");
    assert_eq!(page.eval("document.images.length"), 0);
    assert_eq!(page.eval("document.scripts.length"), 3);
    assert_eq!(page.eval("document.querySelector('h1').textContent"), file);
    let shown = page.eval(
        "[...document.querySelectorAll('#layers tbody tr')].map(tr => tr.cells[1].textContent)",
    );
    assert_eq!(
        shown,
        serde_json::json!([
            "(root)",
            "heads",
            "heads.</script><script>pwned=1</script>",
            "heads.<img src=x onerror=pwned=2>",
            "heads.<!--{{script}}&amp;"
        ])
    );
    assert_clean(&mut page, &path);
    // Defence in depth: a script that did get into the page is refused, and says so on the console.
    page.eval("(() => { const e = document.createElement('script'); e.textContent = 'window.injected = 1'; document.body.append(e); })()");
    assert_eq!(page.eval("typeof window.injected"), "undefined");
    let problems = page.console_problems();
    assert!(
        problems.len() == 1 && problems[0].contains("Content Security Policy"),
        "{problems:#?}"
    );
}

/// ResNet-152's 423 modules: every row, every box, and how long the page takes to redraw (printed; speed
/// is measured in BENCHMARKS.md, not asserted).
#[test]
fn a_model_with_hundreds_of_modules_stays_responsive() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let args = ["summary", "resnet152"];
    let (path, doc) = report("resnet152", &args);
    let modules = doc["modules"].as_array().unwrap();
    assert!(modules.len() > 400, "{} modules", modules.len());
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900);
    let started = std::time::Instant::now();
    page.open(&path);
    let opened = started.elapsed();
    let total = doc["totals"]["params"].as_u64().unwrap();
    let shares = check_treemap_areas(&mut page, &doc, "svg.treemap", total);
    let with_params = modules
        .iter()
        .filter(|m| {
            m["children"].as_array().unwrap().is_empty() && m["own_params"].as_u64().unwrap() > 0
        })
        .count();
    assert_eq!(shares.len(), with_params);
    let timing = page.eval(
        "(() => { const ms = (f) => { document.body.getBoundingClientRect(); const t = performance.now(); f(); \
         document.body.getBoundingClientRect(); return performance.now() - t; }; \
         const depth = document.getElementById('depth'); \
         const all = ms(() => { depth.value = depth.options[depth.options.length - 1].value; \
                                depth.dispatchEvent(new Event('change')); }); \
         const rows = document.querySelectorAll('#layers tbody tr').length; \
         const sort = ms(() => document.querySelector('#layers th:nth-child(4) button').click()); \
         const box = document.querySelector(\"rect.box[data-path^='layer3.']\"); \
         const zoom = ms(() => box.dispatchEvent(new MouseEvent('click', {bubbles: true}))); \
         const hover = ms(() => document.querySelector('rect.box').dispatchEvent( \
             new MouseEvent('mousemove', {bubbles: true, clientX: 10, clientY: 10}))); \
         return {all, rows, sort, zoom, hover}; })()",
    );
    assert_eq!(timing["rows"], modules.len());
    eprintln!(
        "resnet152 ({} modules): page open {:.0} ms; all rows {:.1} ms, sort {:.1} ms, zoom {:.1} ms, hover {:.1} ms",
        modules.len(),
        opened.as_secs_f64() * 1000.0,
        timing["all"].as_f64().unwrap(),
        timing["sort"].as_f64().unwrap(),
        timing["zoom"].as_f64().unwrap(),
        timing["hover"].as_f64().unwrap()
    );
    assert_clean(&mut page, &path);
}

#[test]
fn html_goes_to_stdout_and_only_where_there_is_something_to_draw() {
    let html = run_ok(&["models/vgg_tiny.pt", "--format", "html"]);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for args in [
        &["lint", "models/bias_before_bn.pt", "--format", "html"][..],
        &["linear", "4096", "4096", "--format", "html"],
        &["list", "--format", "html"],
    ] {
        let out = tchinfo(args);
        assert_clean_error(&out, 2, "--format html is for summary, compare and plan");
    }
}

/// The page writes any 64-bit figure as the text reports do: digit grouping, the unit steps, Rust's
/// rounding of an exact tie to even (1,152 B is 1.125 KiB: "1.12 KiB", where toFixed would say 1.13),
/// and integers past 2^53 kept exact from the JSON.
#[test]
fn the_page_formats_figures_as_the_text_reports_do() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let (path, _) = report("vgg_tiny", &["summary", "models/vgg_tiny.pt"]);
    let mut browser = Browser::launch();
    let mut page = browser.page(800, 600);
    page.open(&path);
    let values: [u64; 20] = [
        0,
        1,
        999,
        1000,
        1023,
        1024,
        1125,
        1152,
        1536,
        1_048_575,
        1_048_576,
        67_125_248,
        201_375_744,
        553_430_176,
        3 << 30,
        15_483_821_032,
        (1 << 53) + 1,
        u64::MAX / 3,
        u64::MAX - 1,
        u64::MAX,
    ];
    let list: Vec<String> = values.iter().map(|v| format!("{v}n")).collect();
    let shown = page.eval(&format!(
        "[{}].map(v => [thousands(v), binary(v), decimal(v), si(v)])",
        list.join(", ")
    ));
    for (v, row) in values.iter().zip(shown.as_array().unwrap()) {
        let expected = [thousands(*v), binary(*v), decimal(*v), si(*v)];
        assert_eq!(row, &serde_json::json!(expected), "{v}");
    }
    for (share, digits) in [
        (0.125, 1),
        (0.00125, 2),
        (0.12125, 2),
        (0.742_743, 2),
        (0.5, 1),
    ] {
        let shown = page.eval(&format!("percentOfShare({share}, {digits})"));
        assert_eq!(shown, format!("{:.*}%", digits, share * 100.0), "{share}");
    }
    let big = page.eval("String(parseReport('{\"n\": 18446744073709551615}').n)");
    assert_eq!(big, "18446744073709551615");
    assert_clean(&mut page, &path);
}
