//! Links libtorch so the binary runs without LD_LIBRARY_PATH, and compiles the C++ shim that reads
//! TorchScript graphs (src/shim/), which tch does not expose.

use std::path::Path;

fn main() {
    // torch-sys publishes the libtorch lib folder it linked against to its direct dependents.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        build_jit_shim(Path::new(&lib));
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// The shim is compiled against the same libtorch headers; torch-sys already links libtorch itself.
fn build_jit_shim(lib: &Path) {
    let include = lib.join("../include");
    cc::Build::new()
        .cpp(true)
        .file("src/shim/jit_graph.cpp")
        .std("c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
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
