//! Reads a TorchScript file or a `torch.save` state dict without loading its weights and prints the
//! module tree: `cargo run --release --example read_structure -- models/vgg_tiny.pt`.
//!
//! The CLI (`tchinfo model.pt`) shows the same summary as a table; this example shows the library call.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: read_structure FILE.pt");
        return ExitCode::from(2);
    };
    let summary = match tchinfo::sources::torchscript::read_file(Path::new(&path)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    for (depth, node) in summary.root.walk() {
        let label = if node.path.is_empty() {
            summary.name.as_str()
        } else {
            node.name.as_str()
        };
        let tensors: Vec<String> = node
            .parameters
            .iter()
            .map(|p| {
                format!(
                    "{}{:?} {}{}",
                    p.name,
                    p.shape,
                    p.dtype,
                    if p.requires_grad { "" } else { " frozen" }
                )
            })
            .chain(
                node.buffers
                    .iter()
                    .map(|b| format!("{}{:?} {} buffer", b.name, b.shape, b.dtype)),
            )
            .collect();
        println!(
            "{}{label}: {} ({}) {}",
            "  ".repeat(depth),
            node.type_name,
            node.kind,
            tensors.join(", ")
        );
    }
    let t = summary.totals();
    println!(
        "params {} (trainable {}, frozen {}), tied tensors {}, buffers {}, parameter bytes {}",
        t.params, t.trainable, t.non_trainable, t.tied_tensors, t.buffers, t.param_bytes
    );
    for note in &summary.notes {
        println!("note: {note}");
    }
    ExitCode::SUCCESS
}
