//! Runs a TorchScript model's forward once through libtorch and prints every module's output shapes
//! and mult-adds: `cargo run --release --example measure_torchscript -- models/vgg_tiny.pt 1,3,32,32`.
//! Each further argument is one input, `SIZES[:DTYPE]` (`1,8:int64`); float32 by default.
//!
//! The CLI (`tchinfo model.pt --input-size …`) shows the same measurement in its table; this example
//! shows the library calls, and times the whole load-and-run path for the benchmarks.

use std::path::Path;
use std::process::ExitCode;

use tchinfo::dtype::DType;
use tchinfo::sources::jit_graph::{self, InputSpec};
use tchinfo::sources::torchscript::read_file;

fn parse_input(arg: &str) -> Result<InputSpec, String> {
    let (sizes, dtype) = arg.split_once(':').unwrap_or((arg, "float32"));
    let shape = sizes
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<i64>()
                .map_err(|_| format!("bad size {d:?} in {arg:?}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(InputSpec {
        shape,
        dtype: dtype.parse::<DType>()?,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((file, input_args)) = args.split_first() else {
        eprintln!("usage: measure_torchscript FILE.pt SIZES[:DTYPE]...");
        return ExitCode::from(2);
    };
    let inputs = match input_args
        .iter()
        .map(|a| parse_input(a))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let path = Path::new(file);
    let result = read_file(path).and_then(|mut summary| {
        let measurement = jit_graph::measure(path, &inputs)?;
        jit_graph::apply(&mut summary, &measurement);
        Ok((summary, measurement))
    });
    let (summary, measurement) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    println!("{}", measurement.forward_schema);
    for (depth, node) in summary.root.walk() {
        let label = if node.path.is_empty() {
            summary.name.as_str()
        } else {
            node.name.as_str()
        };
        let shapes = match &node.outputs {
            Some(outputs) => outputs
                .iter()
                .map(|o| format!("{:?}", o.shape))
                .collect::<Vec<_>>()
                .join(" "),
            None => "--".to_string(),
        };
        let count = |v: Option<u64>| v.map_or("--".to_string(), |v| v.to_string());
        println!(
            "{}{label}: {} {shapes} torchinfo-mult-adds={} op-mult-adds={}",
            "  ".repeat(depth),
            node.type_name,
            count(node.mult_adds),
            count(node.op_mult_adds),
        );
    }
    let total = |v: Option<u64>| v.unwrap_or(0);
    println!(
        "total mult-adds: torchinfo-style {}, operator-level {}",
        total(summary.root.subtree_mult_adds()),
        total(summary.root.subtree_op_mult_adds())
    );
    for edge in &measurement.edges {
        let only = if edge.only_consumer {
            " (only consumer)"
        } else {
            ""
        };
        println!("flow: {} -> {}{only}", edge.from, edge.to);
    }
    ExitCode::SUCCESS
}
