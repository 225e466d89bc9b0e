//! What recording a tch model's layers costs, for BENCHMARKS.md:
//! `cargo run --release --example record_bench [runs]`.
//!
//! For each model, alternately and many times: the forward of the model written with plain `nn::seq()`
//! (the MNIST CNN only: the baseline without any wrapper), the forward of the recorded model outside a
//! recording (what wrapping costs the user's ordinary runs: one thread-local check per layer), the same
//! forward recorded (`record::run`), and a whole `record::summarize` (the recorded forward plus the
//! fixed cost of reading the `VarStore` and building the summary). Prints the medians and each one's
//! difference from the unrecorded forward.

use std::time::{Duration, Instant};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};
use tchinfo::record;

#[path = "models/mnist_cnn.rs"]
mod mnist_cnn;
#[path = "models/tiny_lm.rs"]
mod tiny_lm;

/// The MNIST CNN as it was written before recording: `nn::seq()` and closures.
fn plain_cnn(root: &nn::Path) -> impl Module + use<> {
    let features = root / "features";
    let classifier = root / "classifier";
    let padded = nn::ConvConfig {
        padding: 1,
        ..Default::default()
    };
    nn::seq()
        .add(nn::conv2d(&features / 0, 1, 32, 3, padded))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(nn::conv2d(&features / 3, 32, 64, 3, padded))
        .add_fn(|x| x.relu().max_pool2d_default(2).flatten(1, -1))
        .add(nn::linear(
            &classifier / 0,
            64 * 7 * 7,
            128,
            Default::default(),
        ))
        .add_fn(|x| x.relu())
        .add(nn::linear(&classifier / 2, 128, 10, Default::default()))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(f: &mut dyn FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// One variant: its label and what it runs.
type Variant<'a> = (&'a str, Box<dyn FnMut() + 'a>);

struct Case<'a> {
    name: &'a str,
    runs: Vec<Variant<'a>>,
}

fn bench(case: Case, runs: usize) {
    let mut runs_of = case.runs;
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); runs_of.len()];
    for (_, f) in runs_of.iter_mut() {
        f(); // warm up allocator and kernels
    }
    // Each round starts with a different variant, so none always runs right after the same other.
    let n = runs_of.len();
    for round in 0..runs {
        for k in 0..n {
            let i = (round + k) % n;
            times[i].push(time(runs_of[i].1.as_mut()));
        }
    }
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    println!("{}", case.name);
    let unrecorded = runs_of
        .iter()
        .position(|(n, _)| *n == "recorded model, not recording")
        .map(|i| medians[i]);
    for ((label, _), m) in runs_of.iter().zip(&medians) {
        let versus = unrecorded
            .map(|u| format!("{:+.1}%", (m.as_secs_f64() / u.as_secs_f64() - 1.0) * 100.0))
            .unwrap_or_default();
        println!("  {label:<40} {:>12}  {versus}", ms(*m));
    }
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(200, |a| a.parse().expect("runs"));
    let _no_grad = tch::no_grad_guard();

    let vs = nn::VarStore::new(Device::Cpu);
    let plain_vs = nn::VarStore::new(Device::Cpu);
    let cnn = mnist_cnn::mnist_cnn(&vs.root());
    let plain = plain_cnn(&plain_vs.root());
    let images = Tensor::zeros([64, 1, 28, 28], (Kind::Float, Device::Cpu));
    bench(
        Case {
            name: "mnist_cnn, batch 64 × 1×28×28",
            runs: vec![
                (
                    "plain nn::seq(), no wrappers",
                    Box::new(|| drop(plain.forward(&images))),
                ),
                (
                    "recorded model, not recording",
                    Box::new(|| drop(cnn.forward(&images))),
                ),
                (
                    "record::run (the recorded forward)",
                    Box::new(|| drop(record::run("cnn", || cnn.forward(&images)).unwrap())),
                ),
                (
                    "record::summarize (forward + summary)",
                    Box::new(|| {
                        record::summarize(&vs, "cnn", &[&images], || cnn.forward(&images)).unwrap();
                    }),
                ),
            ],
        },
        runs,
    );

    // The cost of one recorded call, whatever the layer: a chain of layers that do nothing.
    const CALLS: usize = 1000;
    let mut plain_chain = nn::seq();
    let mut recorded_chain = record::seq();
    for _ in 0..CALLS {
        plain_chain = plain_chain.add_fn(|x| x.shallow_clone());
        recorded_chain = recorded_chain.add(record::func("Identity", |x| x.shallow_clone()));
    }
    let chain_vs = nn::VarStore::new(Device::Cpu);
    let x = Tensor::zeros([1, 8], (Kind::Float, Device::Cpu));
    bench(
        Case {
            name: "1,000 layers that do nothing, one [1, 8] tensor through them (the cost per call)",
            runs: vec![
                (
                    "plain nn::seq(), no wrappers",
                    Box::new(|| drop(plain_chain.forward(&x))),
                ),
                (
                    "recorded model, not recording",
                    Box::new(|| drop(recorded_chain.forward(&x))),
                ),
                (
                    "record::run (the recorded forward)",
                    Box::new(|| drop(record::run("chain", || recorded_chain.forward(&x)).unwrap())),
                ),
                (
                    "record::summarize (forward + summary)",
                    Box::new(|| {
                        record::summarize(&chain_vs, "chain", &[&x], || recorded_chain.forward(&x))
                            .unwrap();
                    }),
                ),
            ],
        },
        runs,
    );

    let lm_vs = nn::VarStore::new(Device::Cpu);
    let lm = record::layer(tiny_lm::TinyLm::new(&lm_vs.root(), tiny_lm::CONFIG));
    let ids = Tensor::zeros([8, 64], (Kind::Int64, Device::Cpu));
    bench(
        Case {
            name: "tiny_lm, batch 8 × 64 tokens",
            runs: vec![
                (
                    "recorded model, not recording",
                    Box::new(|| drop(lm.forward(&ids))),
                ),
                (
                    "record::run (the recorded forward)",
                    Box::new(|| drop(record::run("lm", || lm.forward(&ids)).unwrap())),
                ),
                (
                    "record::summarize (forward + summary)",
                    Box::new(|| {
                        record::summarize(&lm_vs, "lm", &[&ids], || lm.forward(&ids)).unwrap();
                    }),
                ),
            ],
        },
        runs,
    );
}
