//! Reads a TorchScript file or a `torch.save` state dict without loading its weights and prints the
//! summary table: `cargo run --release --example read_structure -- models/vgg_tiny.pt`.
//!
//! The library call is `tchinfo::sources::torchscript::read_file`; the CLI shows the same summary.

use std::path::Path;
use std::process::ExitCode;
use tchinfo::reports::table::TableOptions;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: read_structure FILE.pt");
        return ExitCode::from(2);
    };
    match tchinfo::sources::torchscript::read_file(Path::new(&path)) {
        Ok(summary) => {
            let opts = TableOptions {
                var_names: true,
                ..TableOptions::default()
            };
            print!("{}", tchinfo::reports::summary::render(&summary, &opts));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
