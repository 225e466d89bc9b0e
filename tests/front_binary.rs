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

/// `list` reads the built-in catalogue, which is data: the front binary answers it alone, without
/// starting libtorch — here from a folder where no `tchinfo-torch` could take over.
#[test]
fn the_list_of_built_ins_needs_no_libtorch() {
    let dir = std::env::temp_dir().join(format!("tchinfo-front-only-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let front = dir.join("tchinfo");
    std::fs::copy(env!("CARGO_BIN_EXE_tchinfo"), &front).unwrap();
    let out = Command::new(&front).arg("list").output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Family"), "{text}");
    for name in ["vgg16", "vit_h_14", "regnet_y_128gf", "maxvit_t"] {
        assert!(text.contains(name), "{name} listed:\n{text}");
    }
}
