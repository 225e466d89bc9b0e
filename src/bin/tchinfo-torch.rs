//! `tchinfo` with libtorch: built-in architectures, forward passes, the Linear cross-check. The `tchinfo`
//! binary runs this one for those commands; it takes the same arguments.

use tchinfo::cli;
use tchinfo::sources::TorchLoader;

fn main() {
    cli::exit_on_failure(cli::run(cli::parse(), &TorchLoader));
}
