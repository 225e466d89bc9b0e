//! `tchinfo linear`: the seed's figures, from the real binary.

mod common;
use common::*;

#[test]
fn linear_4096_by_4096() {
    let out = run_ok(&["linear", "4096", "4096"]);
    for figure in [
        "16,777,216",
        "4,096",
        "16,781,312",
        "64.02 MiB",
        "67.13 MB",
        "192.05 MiB",
        "256.06 MiB",
    ] {
        assert!(out.contains(figure), "missing {figure}:\n{out}");
    }
    assert_golden("linear_4096_4096.out", &out);
}

#[test]
fn linear_without_bias_shows_the_saving() {
    let out = run_ok(&["linear", "4096", "4096", "--no-bias"]);
    assert!(out.contains("16,777,216"));
    assert!(!out.contains("16,781,312"));
    assert!(out.contains("saves 4,096 parameters"));
    assert_golden("linear_4096_4096_no_bias.out", &out);
}

#[test]
fn linear_dtypes_change_the_bytes() {
    let out = run_ok(&["linear", "4096", "4096", "--dtype", "bf16"]);
    assert!(out.contains("33,562,624 B"), "{out}");
    let out = run_ok(&["linear", "1000", "10", "--dtype", "i8"]);
    assert!(out.contains("10,010 B"), "{out}");
}

#[test]
fn bad_linear_arguments_exit_with_2() {
    for args in [
        &["linear", "0", "4096"][..],
        &["linear", "-1", "4096"],
        &["linear", "abc", "4096"],
        &["linear", "4096"],
        &["linear", "4096", "4096", "--dtype", "f128"],
    ] {
        let out = tchinfo(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
    let out = tchinfo(&["linear", "4294967296", "4294967297"]);
    assert_clean_error(&out, 2, "too large");
}
