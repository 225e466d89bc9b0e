//! Times one built-in summary phase by phase, for BENCHMARKS.md:
//! `/usr/bin/time -v target/release/examples/builtin_bench vgg16 [C,H,W] [--no-forward]`, or for a
//! language model `builtin_bench gpt2 [--seq-len N] [--no-forward]`.

use std::time::Instant;
use tchinfo::sources::builtin::{self, BuiltinOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("vgg16", String::as_str);
    let input_size = args
        .get(1)
        .filter(|a| !a.starts_with("--"))
        .map(|s| s.split(',').map(|d| d.parse().expect("C,H,W")).collect());
    let forward = !args.iter().any(|a| a == "--no-forward");
    let seq_len = args
        .iter()
        .position(|a| a == "--seq-len")
        .map(|i| args[i + 1].parse().expect("--seq-len N"));
    let opts = BuiltinOptions {
        input_size,
        seq_len,
        forward,
        ..BuiltinOptions::default()
    };
    let start = Instant::now();
    match builtin::summarize(name, &opts) {
        Ok(s) => {
            let t = s.totals();
            eprintln!(
                "{name}: {} parameters, mult-adds {:?}, output {:?}, summarize {:.3} s",
                t.params,
                t.mult_adds,
                s.root.outputs.as_ref().map(|o| o[0].shape.clone()),
                start.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
