//! `tchinfo summary` / `tchinfo MODEL` from the real binaries: golden tables, folding, columns, errors.

mod common;
use common::*;

#[test]
fn vgg16_table_is_golden() {
    let out = run_ok(&["vgg16"]);
    assert_golden("vgg16.out", &out);
    for figure in [
        "Total params: 138,357,544",
        "fc6 (classifier.0)  Linear  102,764,544",
        "fc7 (classifier.3)  Linear   16,781,312",
        "fc8 (classifier.6)  Linear    4,097,000",
        "Linear       123,642,856  89.4%",
        "Convolution   14,714,688  10.6%",
        "15.48 G",
        "108.45 MB",
        "553.43 MB",
    ] {
        assert!(out.contains(figure), "missing {figure:?}");
    }
}

#[test]
fn resnet18_table_is_golden() {
    let out = run_ok(&["summary", "resnet18"]);
    assert_golden("resnet18.out", &out);
    assert!(out.contains("Total params: 11,689,512"));
    assert!(
        out.contains("39.75 MB"),
        "torchinfo's forward/backward size for resnet18"
    );
}

/// MultiheadAttention is a container here (its `out_proj` is a child). Its row shows the operators of
/// its own code — the three input projections, the attention product and the output projection (8 ×
/// 4 × 32 × 32 + 2 × 8 × 8 × 32 = 36,864) — so the column adds up to the operator total; in
/// torchinfo's column it shows `--`, as torchinfo prints it: its own `in_proj_weight` is not in
/// torchinfo's total (14,980). The head is the trailing Linear alone (onto the 100-token vocabulary),
/// not the feed-forward before the last LayerNorm. The estimated total is torchinfo's: input 64 B +
/// its Params size 59,920 B (leaf layers that ran: not the positional parameter, `in_proj_weight` or
/// `out_proj`) + forward/backward 22,784 B = 82,768 B.
#[test]
fn tiny_transformer_table_is_golden() {
    let out = run_ok(&[
        "models/tiny_transformer.pt",
        "--input-size",
        "1,8",
        "--dtype",
        "i64",
    ]);
    assert_golden("tiny_transformer.out", &out);
    let mha = out
        .lines()
        .find(|l| l.contains("MultiheadAttention: 1-2"))
        .expect("attention row");
    assert!(mha.contains("36,864  True"), "{mha}");
    for figure in [
        "Total mult-adds: 128.00 k (128,000; counted per operator",
        "torchinfo's mult-adds: 14.98 k (14,980;",
        "Head: language-model output projection (head): 3,300 params (17.0%)",
        "82.77 KB",
    ] {
        assert!(out.contains(figure), "missing {figure:?}");
    }
    let torchinfo = run_ok(&[
        "models/tiny_transformer.pt",
        "--input-size",
        "1,8",
        "--dtype",
        "i64",
        "--columns",
        "params,torchinfo-mult-adds",
    ]);
    let mha = torchinfo
        .lines()
        .find(|l| l.contains("MultiheadAttention: 1-2"))
        .expect("attention row");
    assert!(mha.ends_with("3,168                     --"), "{mha}");
    assert!(torchinfo.contains("Mult-Adds (torchinfo)"), "{torchinfo}");
}

/// `out` holds only the embedding's weight: torchinfo still counts it a layer with parameters (its
/// output ×2 makes the forward/backward size 5,248 B, not 2,048 B), charges the weight again in its
/// Params size (7,488 B), and it is the head's last Linear.
#[test]
fn tied_embedding_table_is_golden() {
    let out = run_ok(&[
        "models/tied_embedding.pt",
        "--input-size",
        "1,8",
        "--dtype",
        "i64",
    ]);
    assert_golden("tied_embedding.out", &out);
    let forward_backward = out
        .lines()
        .find(|l| l.contains("×2 (torchinfo)"))
        .expect("forward/backward row");
    assert!(forward_backward.ends_with("5.25 KB"), "{forward_backward}");
    for figure in [
        "Head: fully connected stack of 2 Linear (body, out; out.weight is tied to embed.weight, \
         counted once there): 272 params (25.4%)",
        "12.80 KB",
    ] {
        assert!(out.contains(figure), "missing {figure:?}");
    }
}

#[test]
fn folded_rows_show_their_subtree() {
    let out = run_ok(&["vgg16", "--depth", "1", "--columns", "params", "--ascii"]);
    let features = out
        .lines()
        .find(|l| l.contains("Sequential: 1-1"))
        .expect("features row");
    assert!(features.contains("14,714,688"), "{features}");
    let classifier = out
        .lines()
        .find(|l| l.contains("Sequential: 1-3"))
        .expect("classifier row");
    assert!(classifier.contains("123,642,856"), "{classifier}");
    assert!(!out.contains("Conv2d: 2-1"), "depth 2 rows are folded");
    assert!(
        out.starts_with("=") && out.contains("|-Sequential: 1-1"),
        "ascii glyphs:\n{out}"
    );
    assert!(!out.contains("Output Shape"), "only the params column");
}

#[test]
fn file_structure_without_libtorch() {
    let out = run_ok(&["models/vgg_tiny.pt"]);
    assert!(out.contains("classifier.fc6  Linear  4,160"), "{out}");
    assert!(out.contains("Total mult-adds: -- (no forward pass was run)"));
}

#[test]
fn bad_models_give_one_clean_line() {
    let out = tchinfo(&["resnet05"]);
    assert_clean_error(&out, 1, "did you mean resnet50?");
    let out = tchinfo(&["models/no-such-file.pt"]);
    assert_clean_error(&out, 1, "models/no-such-file.pt");
    let out = tchinfo(&["Cargo.toml"]);
    assert_clean_error(&out, 1, "Cargo.toml");
    let out = tchinfo(&["vgg16", "--input-size", "3,16,16"]);
    assert_clean_error(&out, 1, "vgg16");
    let out = tchinfo(&["vgg16", "--columns", "weight"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Files have the built-ins' input limit, said before libtorch's allocator fails.
    let out = tchinfo(&["models/vgg_tiny.pt", "--input-size", "1,3,100000,100000"]);
    assert_clean_error(
        &out,
        1,
        "models/vgg_tiny.pt: input 1 [1, 3, 100000, 100000]: too large for a CPU forward pass",
    );
    assert!(!stderr(&out).contains("it expects"), "{}", stderr(&out));
    // A state dict (or a checkpoint holding one) has no code to run: said without asking libtorch.
    for file in ["models/state_dict.pt", "models/checkpoint.pt"] {
        let out = tchinfo(&[file, "--input-size", "1,3,32,32"]);
        assert_clean_error(
            &out,
            1,
            &format!(
                "{file}: a state dict has no forward to run; --input-size needs a TorchScript file"
            ),
        );
    }
}

#[test]
fn stdout_is_only_the_report_and_survives_a_closed_pipe() {
    let out = tchinfo(&["resnet18"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).is_empty(),
        "no progress or noise off a terminal: {}",
        stderr(&out)
    );
    // `tchinfo vgg16 | head -1`: the reader goes away early; that is not an error.
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; '{}' vgg16 | head -1 >/dev/null",
            env!("CARGO_BIN_EXE_tchinfo")
        ))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_shorthand_takes_options_before_the_model() {
    let after = run_ok(&["models/vgg_tiny.pt", "--depth", "1"]);
    assert_eq!(run_ok(&["--depth", "1", "models/vgg_tiny.pt"]), after);
    assert_eq!(
        run_ok(&["--depth=1", "--ascii", "models/vgg_tiny.pt"]),
        run_ok(&["models/vgg_tiny.pt", "--depth", "1", "--ascii"])
    );
}

#[test]
fn usage_errors_read_like_every_other_error() {
    for args in [
        &["models/vgg_tiny.pt", "--depth", "deep"][..],
        &["plan", "vgg16", "--budget", "lots"],
        &["--no-such-option", "models/vgg_tiny.pt"],
    ] {
        let out = tchinfo(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.starts_with("tchinfo: error: "), "{args:?}: {err}");
        // One line, like every other error: no tip, usage or help lines after it.
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.ends_with("(see tchinfo --help)\n"), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    // Help and version are not errors: stdout, exit 0.
    let out = tchinfo(&["--version"]);
    assert!(out.status.success() && stdout(&out).starts_with("tchinfo "));
}

/// One rule for the batch: `--batch-size` replaces the N of a full `--input-size N,C,H,W`, an explicit
/// 1 included; without it N is the batch.
#[test]
fn batch_size_replaces_the_n_of_a_full_input_size() {
    let batch = |extra: &[&str]| {
        let mut args = vec![
            "squeezenet1_1",
            "--input-size",
            "2,3,32,32",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let doc: serde_json::Value = serde_json::from_str(&run_ok(&args)).unwrap();
        doc["inputs"][0]["shape"][0].as_u64().unwrap()
    };
    assert_eq!(batch(&[]), 2);
    assert_eq!(batch(&["--batch-size", "1"]), 1);
    assert_eq!(batch(&["--batch-size", "3"]), 3);
}

/// torchinfo 1.8 on `torchvision.models.googlenet()` at 1×3×224×224: the auxiliary classifiers' params
/// are in the total, but they never run in eval mode, so they add no mult-adds, no activations and
/// nothing to "Params size" (26,499,616 B) or the estimated total; and they are not the head.
#[test]
fn googlenet_matches_torchinfo_with_its_auxiliary_classifiers() {
    let doc: serde_json::Value =
        serde_json::from_str(&run_ok(&["googlenet_aux", "--format", "json"])).unwrap();
    assert_eq!(doc["totals"]["params"], 13_004_888);
    assert_eq!(doc["totals"]["mult_adds"], 1_498_391_752);
    let act = &doc["memory"]["activations"];
    assert_eq!(act["torchinfo_forward_backward_bytes"], 51_626_560);
    // Input 602,112 B (torchinfo's own input figure, 602,176 B, adds Python's object overhead) +
    // torchinfo's Params size + the forward/backward size.
    assert_eq!(
        act["torchinfo_estimated_total_bytes"],
        602_112 + 26_499_616 + 51_626_560
    );
    assert_eq!(doc["head"]["linear_layers"], serde_json::json!(["fc"]));
    let aux = doc["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == "aux2")
        .unwrap();
    assert_eq!(aux["outputs"], serde_json::Value::Null);
    assert_eq!(aux["subtree_params"], 3_191_016);
}
