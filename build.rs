//! Links libtorch so the binary runs without LD_LIBRARY_PATH.

fn main() {
    // torch-sys publishes the libtorch lib folder it linked against to its direct dependents.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
