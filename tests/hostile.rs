//! A hostile model file cannot hurt the person who inspects it. Every check runs the real binaries on
//! the crafted files of `tests/fixtures/hostile/` (written by its `make_hostile.py`) or on files the
//! test makes, and looks from the outside: exit code, the one line on stderr, and what is on disk after.

mod common;
use common::*;
use serde_json::Value as Json;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hostile(name: &str) -> PathBuf {
    repo_path("tests/fixtures/hostile").join(name)
}

/// A fresh empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tchinfo-hostile-test-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs `tchinfo` from `dir` with its temporary directory inside `dir/tmp`, so the test sees every file
/// the run leaves behind.
fn run_in(dir: &Path, args: &[&OsStr]) -> Output {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    Command::new(env!("CARGO_BIN_EXE_tchinfo"))
        .args(args)
        .current_dir(dir)
        .env("TMPDIR", &tmp)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the tchinfo binary runs")
}

fn os(args: &[&str]) -> Vec<&'static OsStr> {
    args.iter()
        .map(|a| OsStr::new(Box::leak(a.to_string().into_boxed_str())))
        .collect()
}

/// A forward-pass attack: one clean error line after the sandbox notice, nothing left in the working
/// or temporary directory.
fn attack(name: &str, extra: &[&str], needle: &str) -> String {
    let dir = scratch(name.trim_end_matches(".pt"));
    let model = hostile(name);
    let mut args = vec![model.to_str().unwrap(), "--input-size", "1,4"];
    args.extend(extra);
    let out = run_in(&dir, &os(&args));
    let err = stderr(&out);
    assert!(
        is_sandbox_notice(err.lines().next().unwrap_or("")),
        "{name}: the notice comes first: {err}"
    );
    assert_clean_error(&out, 1, needle);
    assert_eq!(entries(&dir), ["tmp"], "{name}: nothing written");
    assert!(
        entries(&dir.join("tmp")).is_empty(),
        "{name}: sandbox cleaned up"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    stderr_after_notice(&out)
}

#[test]
fn a_forward_that_creates_a_file_is_refused() {
    let target = Path::new("/tmp/tchinfo-hostile-written");
    let _ = std::fs::remove_file(target);
    let err = attack(
        "writes_file.pt",
        &[],
        "unable to open file </tmp/tchinfo-hostile-written> in read-write mode: Permission denied",
    );
    assert!(err.contains("refused by the sandbox"), "{err}");
    assert!(!target.exists(), "the file was not created");
}

#[test]
fn a_forward_that_overwrites_a_file_is_refused() {
    let victim = Path::new("/tmp/tchinfo-hostile-victim");
    std::fs::write(victim, b"precious").unwrap();
    attack("overwrites_file.pt", &[], "Permission denied");
    assert_eq!(std::fs::read(victim).unwrap(), b"precious");
    std::fs::remove_file(victim).unwrap();
}

#[test]
fn a_forward_that_reads_other_files_learns_nothing() {
    let err = attack("reads_passwd.pt", &[], "/etc/passwd");
    if tchinfo::sandbox::landlock_abi().is_some() {
        assert!(err.contains("Permission denied"), "{err}");
        assert!(!err.contains("root:"), "nothing of the file: {err}");
    }
}

#[test]
fn a_forward_that_spins_is_stopped_at_the_timeout() {
    attack(
        "spins.pt",
        &["--timeout", "2"],
        "spins.pt: the forward pass did not finish within 2 s (--timeout); it was stopped",
    );
}

#[test]
fn a_forward_that_allocates_8_gib_is_stopped_at_the_memory_limit() {
    attack(
        "allocates.pt",
        &["--max-memory", "1GiB"],
        "allocates.pt: the forward pass needed more memory than the sandbox allows (1.00 GiB, --max-memory)",
    );
}

#[test]
fn code_or_data_nested_too_deeply_overflows_the_childs_stack_not_tchinfo() {
    for name in ["deep_code.pt", "deep_tuple.pt"] {
        attack(
            name,
            &[],
            "the forward pass overflowed its stack (code or data nested too deeply)",
        );
    }
}

#[test]
fn what_a_forward_prints_becomes_a_note_never_the_report() {
    let dir = scratch("prints");
    let model = hostile("prints.pt");
    let out = run_in(
        &dir,
        &os(&[
            model.to_str().unwrap(),
            "--input-size",
            "1,4",
            "--format",
            "json",
        ]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr_after_notice(&out), "");
    let text = stdout(&out);
    assert!(!text.contains("PRINTED") || text.contains("the forward pass printed"));
    let doc: Json = serde_json::from_str(&text).expect("stdout is the JSON document alone");
    let notes: Vec<&str> = doc["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let printed = notes
        .iter()
        .find(|n| n.starts_with("the forward pass printed"))
        .expect("a note of what it printed");
    assert!(
        printed.contains("PRINTED \\u{1b}]0;owned\\u{7} line 0"),
        "{printed}"
    );
    assert!(printed.len() < 1000, "capped: {}", printed.len());
    assert!(!text.contains('\x1b'));
    assert_eq!(entries(&dir), ["tmp"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plan_lint_and_compare_run_files_in_the_sandbox_too() {
    let spins = hostile("spins.pt");
    let spins = spins.to_str().unwrap();
    let out = tchinfo(&["plan", spins, "--input-size", "1,4", "--timeout", "1"]);
    assert_clean_error(&out, 1, "did not finish within 1 s");
    let writes = hostile("writes_file.pt");
    let out = tchinfo(&["lint", writes.to_str().unwrap(), "--input-size", "1,4"]);
    assert_clean_error(&out, 1, "refused by the sandbox");
    // A built-in beside a file: tchinfo-torch builds the built-in and runs the file in its own child.
    let out = tchinfo(&[
        "compare",
        "resnet18",
        spins,
        "--input-size",
        "1,3,32,32",
        "--timeout",
        "1",
    ]);
    assert_clean_error(&out, 1, "did not finish within 1 s");
}

#[test]
fn a_sandboxed_forward_measures_what_an_unsandboxed_one_does() {
    let out = tchinfo(&[
        "models/vgg_tiny.pt",
        "--input-size",
        "1,3,32,32",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("models/vgg_tiny.pt") && err.contains("no file writes, no network"),
        "{err}"
    );
    let doc: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["totals"]["mult_adds"], 537_354);
}

#[test]
fn a_name_that_is_both_a_builtin_and_a_file_is_refused() {
    let dir = scratch("ambiguous");
    std::fs::copy(model("vgg_tiny"), dir.join("resnet18")).unwrap();
    let out = run_in(&dir, &os(&["resnet18"]));
    assert_clean_error(
        &out,
        1,
        "resnet18: both a built-in architecture and a file in the working directory; write \
         ./resnet18 for the file or builtin:resnet18 for the built-in",
    );
    let out = run_in(&dir, &os(&["./resnet18", "--depth", "0"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("====") && stdout(&out).contains("VggTiny"));
    let out = run_in(
        &dir,
        &os(&["builtin:resnet18", "--no-forward", "--depth", "0"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Total params: 11,689,512"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_path_that_is_not_utf8_is_read_and_shown_escaped() {
    let dir = scratch("utf8");
    let name = OsStr::from_bytes(b"caf\xe9\x1b.pt");
    std::fs::copy(model("vgg_tiny"), dir.join(name)).unwrap();
    let out = run_in(&dir, &[name, OsStr::new("--format"), OsStr::new("json")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["model"], "caf\\xe9\\u{1b}.pt");
    // Its forward pass runs too: the child gets the path's bytes as they are.
    let out = run_in(
        &dir,
        &[name, OsStr::new("--input-size"), OsStr::new("1,3,32,32")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("caf\\xe9\\u{1b}.pt"));
    let missing = OsStr::from_bytes(b"missing\xff.pt");
    let out = run_in(&dir, &[missing]);
    assert_clean_error(&out, 1, "missing\\xff.pt: no such file");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The front binary alone, copied where no tchinfo-torch is beside it: whatever it answers, it
/// answered without starting libtorch.
fn lone_front(dir: &Path) -> PathBuf {
    let front = dir.join("tchinfo");
    std::fs::copy(env!("CARGO_BIN_EXE_tchinfo"), &front).unwrap();
    front
}

#[test]
fn directories_fifos_devices_and_missing_files_are_named_without_libtorch() {
    let dir = scratch("kinds");
    let front = lone_front(&dir);
    let fifo = dir.join("pipe.pt");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let cases: [(&Path, &str); 4] = [
        // A folder is read as a model folder; one without weights says so.
        (&dir, "a folder without model weights"),
        (&fifo, "is a FIFO (named pipe), not a model file"),
        (
            Path::new("/dev/zero"),
            "/dev/zero: is a device, not a model file",
        ),
        (Path::new("no/such.pt"), "no/such.pt: no such file"),
    ];
    for (path, needle) in cases {
        let out = Command::new(&front).arg(path).output().unwrap();
        assert_clean_error(&out, 1, needle);
    }
    // Typos of built-in names still get their suggestion, from the front alone.
    let out = Command::new(&front).arg("resnet05").output().unwrap();
    assert_clean_error(&out, 1, "did you mean resnet50?");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The module count of a file, from its JSON summary.
fn module_count(path: &Path) -> usize {
    let out = tchinfo(&[path.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Json = serde_json::from_str(&stdout(&out)).unwrap();
    doc["modules"].as_array().unwrap().len()
}

#[test]
fn reports_stay_proportional_to_their_rows() {
    let dir = scratch("bounded");
    let front = lone_front(&dir);
    for (name, args) in [
        ("long_class.pt", &[][..]),
        ("long_key.pt", &["--var-names"][..]),
        ("deep_tree.pt", &["--depth", "300"][..]),
        ("wide_names.pt", &[][..]),
    ] {
        let path = hostile(name);
        let modules = module_count(&path);
        for format in ["table", "markdown"] {
            let out = Command::new(&front)
                .arg(&path)
                .args(args)
                .args(["--format", format])
                .output()
                .unwrap();
            assert!(out.status.success(), "{name}: {}", stderr(&out));
            let text = stdout(&out);
            // A footer of a few KB, then at most 100 bytes a module.
            let budget = 6000 + 100 * modules;
            assert!(
                text.len() <= budget,
                "{name} {format}: {} bytes for {modules} modules",
                text.len()
            );
            let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
            assert!(
                widest <= 400,
                "{name} {format}: a line of {widest} characters"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_reach_no_report_raw() {
    let path = hostile("escapes.pt");
    let path = path.to_str().unwrap();
    for format in ["table", "markdown", "csv"] {
        for extra in [&[][..], &["--var-names"][..]] {
            let mut args = vec![path, "--format", format];
            args.extend(extra);
            let text = run_ok(&args);
            for raw in ['\x1b', '\x07', '\u{202e}'] {
                assert!(
                    !text.contains(raw),
                    "{format} {extra:?}: {raw:?} in\n{text}"
                );
            }
            assert!(text.contains("\\u{1b}"), "{format}: shown escaped:\n{text}");
        }
    }
    // Compare, plan-free reports and lint too.
    for args in [
        &["compare", path, "models/state_dict.pt"][..],
        &["lint", path],
    ] {
        let text = run_ok(args);
        assert!(
            !text.contains('\x1b') && !text.contains('\u{202e}'),
            "{text}"
        );
    }
    // JSON keeps the names exact, with the dangerous characters as \u escapes.
    let text = run_ok(&[path, "--format", "json"]);
    assert!(!text.contains('\x1b') && !text.contains('\u{202e}'));
    let doc: Json = serde_json::from_str(&text).unwrap();
    let paths: Vec<&str> = doc["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"features.0\x1b]0;owned\x07"), "{paths:?}");
    assert!(paths.contains(&"head\u{202e}txt"), "{paths:?}");
}

#[test]
fn output_never_destroys_the_model_or_follows_a_planted_link() {
    let dir = scratch("output");
    let model_path = dir.join("model.pt");
    std::fs::copy(model("vgg_tiny"), &model_path).unwrap();
    let original = std::fs::read(&model_path).unwrap();
    let out = run_in(&dir, &os(&["model.pt", "-o", "model.pt"]));
    assert_clean_error(&out, 1, "refusing to replace the model with its report");
    let out = run_in(&dir, &os(&["model.pt", "-o", "./model.pt", "--force"]));
    assert_clean_error(&out, 1, "refusing to replace the model with its report");
    assert_eq!(std::fs::read(&model_path).unwrap(), original);
    // A planted link at the report's name.
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("report.txt")).unwrap();
    let out = run_in(&dir, &os(&["model.pt", "-o", "report.txt"]));
    assert_clean_error(&out, 1, "symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // /dev/stdout is written straight into.
    let out = run_in(
        &dir,
        &os(&["model.pt", "--depth", "0", "-o", "/dev/stdout"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("VggTiny"));
    // A new report is an ordinary file, and nothing else is left beside it.
    let out = run_in(&dir, &os(&["model.pt", "-o", "new.txt"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        entries(&dir),
        ["model.pt", "new.txt", "report.txt", "tmp", "victim"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_closed_stdout_or_a_full_disk_is_an_error() {
    let closed = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' models/vgg_tiny.pt >&-",
            env!("CARGO_BIN_EXE_tchinfo")
        ))
        .current_dir(repo_path(""))
        .output()
        .unwrap();
    assert_clean_error(&closed, 1, "cannot write the report to stdout");
    let out = tchinfo(&["models/vgg_tiny.pt", "-o", "/dev/full", "--force"]);
    assert_clean_error(&out, 1, "No space left on device");
}
