//! The `tchinfo` binary must not link libtorch: its start-up alone costs ~0.3 s and ~110 MiB, and reading a
//! file's structure needs none of it. Commands that do need it go through `tchinfo-torch`.

mod common;
use common::*;
use std::process::Command;

fn needed_libraries(binary: &str) -> String {
    let out = Command::new("readelf")
        .args(["-d", binary])
        .output()
        .expect("readelf (binutils) runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn front_binary_does_not_link_libtorch() {
    let front = needed_libraries(env!("CARGO_BIN_EXE_tchinfo"));
    assert!(
        !front.contains("torch") && !front.contains("c10"),
        "tchinfo links libtorch:\n{front}"
    );
    let torch = needed_libraries(env!("CARGO_BIN_EXE_tchinfo-torch"));
    assert!(
        torch.contains("libtorch_cpu"),
        "tchinfo-torch should link libtorch:\n{torch}"
    );
}

#[test]
fn libtorch_commands_are_handed_over() {
    // `linear` needs libtorch for its cross-check: the answer must come back through tchinfo-torch.
    let out = run_ok(&["linear", "8", "4"]);
    assert!(
        out.contains("checked: a tch::nn::linear layer in a VarStore holds 36 parameters"),
        "{out}"
    );
}
