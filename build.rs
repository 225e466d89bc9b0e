//! Links libtorch so the binary runs without LD_LIBRARY_PATH, and compiles the C++ shim that reads
//! TorchScript graphs (src/shim/), which tch does not expose.

use std::path::Path;

fn main() {
    // torch-sys publishes the libtorch lib folder it linked against to its direct dependents. Without it
    // the shim cannot be compiled and the link would fail later on a missing symbol, so stop here.
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_else(|_| {
        panic!("torch-sys did not say where libtorch is (DEP_TCH_LIBTORCH_LIB); run `make` or scripts/fetch-libtorch.sh")
    });
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    build_jit_shim(Path::new(&lib));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBTORCH_INCLUDE");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
}

/// The shim is compiled against the same libtorch headers; torch-sys already links libtorch itself.
/// Headers and ABI follow the same variables torch-sys reads, so the shim matches the library it links.
fn build_jit_shim(lib: &Path) {
    let include = std::env::var_os("LIBTORCH_INCLUDE")
        .map(|root| Path::new(&root).join("include"))
        .unwrap_or_else(|| lib.join("../include"));
    let abi = match std::env::var("LIBTORCH_CXX11_ABI").as_deref() {
        Ok("0") => "0",
        _ => "1",
    };
    cc::Build::new()
        .cpp(true)
        .file("src/shim/jit_graph.cpp")
        .std("c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", abi)
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
