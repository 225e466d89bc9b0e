//! `tchinfo` with libtorch: built-in architectures, the Linear cross-check, and the sandboxed child that
//! runs a TorchScript file's forward pass. The `tchinfo` binary runs this one for built-ins (with the
//! same arguments) and for forward passes (with the hidden first argument
//! [`tchinfo::sandbox::CHILD_FLAG`]).

use tchinfo::cli;
use tchinfo::sources::TorchLoader;

fn main() {
    if tchinfo::sandbox::child::requested() {
        tchinfo::sandbox::child::serve(tchinfo::sources::jit_graph::run_shim);
    }
    cli::exit_on_failure(cli::run(cli::parse(), &TorchLoader));
}
