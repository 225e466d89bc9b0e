//! Links libtorch so the binary runs without LD_LIBRARY_PATH, and compiles the C++ shim that reads
//! TorchScript graphs (src/shim/), which tch does not expose.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    // torch-sys publishes the libtorch lib folder it linked against to its direct dependents. Without it
    // the shim cannot be compiled and the link would fail later on a missing symbol, so stop here.
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_else(|_| {
        panic!("torch-sys did not say where libtorch is (DEP_TCH_LIBTORCH_LIB); run `make` or scripts/fetch-libtorch.sh")
    });
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    build_jit_shim(Path::new(&lib));
    println!("cargo:rerun-if-changed=build.rs");
    for var in [
        "LIBTORCH",
        "LIBTORCH_INCLUDE",
        "LIBTORCH_LIB",
        "LIBTORCH_CXX11_ABI",
        "LIBTORCH_USE_PYTORCH",
        "VIRTUAL_ENV",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
}

/// The shim is compiled against the headers of the libtorch torch-sys links, with the same C++ ABI.
fn build_jit_shim(lib: &Path) {
    let include = include_root(lib).join("include");
    let abi = cxx11_abi();
    cc::Build::new()
        .cpp(true)
        .file("src/shim/jit_graph.cpp")
        .file("src/shim/counting_allocator.cpp")
        .std("c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", abi.as_str())
        // libtorch's headers are not ours to fix: -isystem keeps their warnings out of the build log.
        .flag("-isystem")
        .flag(include.to_str().expect("UTF-8 libtorch path"))
        .flag("-isystem")
        .flag(
            include
                .join("torch/csrc/api/include")
                .to_str()
                .expect("UTF-8 libtorch path"),
        )
        .compile("tchinfo_jit_shim");
    println!("cargo:rerun-if-changed=src/shim");
}

/// The folder holding `include/`, chosen as torch-sys 0.26 chooses it: $LIBTORCH_INCLUDE, else
/// $LIBTORCH, else the libtorch it found or downloaded, whose lib folder ($LIBTORCH_LIB/lib or
/// <libtorch>/lib) sits beside include/. With LIBTORCH_USE_PYTORCH torch-sys ignores those variables
/// and takes Python's torch package, whose lib and include folders are also side by side.
fn include_root(lib: &Path) -> PathBuf {
    let beside_lib = || lib.join("..");
    if std::env::var_os("LIBTORCH_USE_PYTORCH").is_some() {
        return beside_lib();
    }
    std::env::var_os("LIBTORCH_INCLUDE")
        .or_else(|| std::env::var_os("LIBTORCH"))
        .map(PathBuf::from)
        .unwrap_or_else(beside_lib)
}

/// `_GLIBCXX_USE_CXX11_ABI` as torch-sys 0.26 sets it: Python's torch says with LIBTORCH_USE_PYTORCH,
/// else $LIBTORCH_CXX11_ABI, else 1. A mismatch would fail at link time on std::string symbols.
fn cxx11_abi() -> String {
    if std::env::var_os("LIBTORCH_USE_PYTORCH").is_none() {
        return std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_string());
    }
    // The interpreter torch-sys runs: `python` inside a virtual environment, else `python3`.
    let python = if std::env::var_os("VIRTUAL_ENV").is_some() {
        "python"
    } else {
        "python3"
    };
    let output = Command::new(python)
        .args([
            "-c",
            "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("LIBTORCH_USE_PYTORCH is set but {python} did not run: {e}"));
    match String::from_utf8_lossy(&output.stdout).trim() {
        abi @ ("0" | "1") => abi.to_string(),
        _ => panic!(
            "LIBTORCH_USE_PYTORCH is set but {python} did not say torch's C++ ABI: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    }
}
