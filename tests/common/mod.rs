//! Shared helpers for the integration tests: run the real binary, compare against golden files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn tchinfo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tchinfo"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the tchinfo binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Runs tchinfo and returns stdout, failing the test if it did not succeed.
pub fn run_ok(args: &[&str]) -> String {
    let out = tchinfo(args);
    assert!(
        out.status.success(),
        "tchinfo {args:?} failed with {:?}: {}",
        out.status.code(),
        stderr(&out)
    );
    stdout(&out)
}

/// Fails unless tchinfo's `planned` bytes are within `tolerance` (a fraction) of PyTorch's `saved`.
pub fn assert_within(planned: u64, saved: u64, tolerance: f64, what: &str) {
    let error = (planned as f64 - saved as f64).abs() / saved as f64;
    assert!(
        error < tolerance,
        "{what}: tchinfo {planned}, PyTorch saved {saved}"
    );
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Compares `actual` with `tests/golden/<name>`. `UPDATE_GOLDEN=1 cargo test` rewrites the file instead.
pub fn assert_golden(name: &str, actual: &str) {
    let path = repo_path("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} unreadable ({e}); run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "output differs from {}\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}

/// The line tchinfo prints on stderr before a file's code first runs (in its sandbox).
pub fn is_sandbox_notice(line: &str) -> bool {
    line.starts_with("tchinfo: running the TorchScript code in ")
        && line.contains("in a sandboxed child process")
}

/// stderr after the sandbox notice, which, when a file's code ran, must be its first line and come
/// once.
pub fn stderr_after_notice(out: &Output) -> String {
    let err = stderr(out);
    let rest = match err.split_once('\n') {
        Some((first, rest)) if is_sandbox_notice(first) => rest.to_string(),
        _ => err,
    };
    assert!(
        !rest.lines().any(is_sandbox_notice),
        "the notice comes once, first: {rest}"
    );
    rest
}

/// A failure must be exactly one line on stderr (after the sandbox notice, when a file's code ran),
/// name `needle`, and exit with `code`, without a panic.
pub fn assert_clean_error(out: &Output, code: i32, needle: &str) {
    let err = stderr_after_notice(out);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(
        err.contains(needle),
        "stderr should mention {needle:?}: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line on stderr: {err}"
    );
    assert!(!err.contains("panicked"), "no panic: {err}");
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
}

/// Every TorchScript sample in `models/` (the state dict and checkpoint are not TorchScript).
pub const TORCHSCRIPT_SAMPLES: &[&str] = &[
    "vgg_tiny",
    "resnet_tiny_scripted",
    "resnet_tiny_traced",
    "frozen_backbone",
    "tied_embedding",
    "half_mlp",
    "nested_blocks",
    "tiny_transformer",
    "two_inputs",
    "bias_before_bn",
    "data_version_layout",
];

/// `models/<name>.pt`.
pub fn model(name: &str) -> PathBuf {
    repo_path("models").join(format!("{name}.pt"))
}

/// What eager PyTorch recorded for a sample (`models/reference/<name>.json`).
pub fn reference(name: &str) -> serde_json::Value {
    // The layout copy and the checkpoint describe the same models as their sources.
    let name = match name {
        "data_version_layout" => "resnet_tiny_scripted",
        "checkpoint" => "state_dict",
        other => other,
    };
    let path = repo_path("models/reference").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}
