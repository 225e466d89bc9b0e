//! `structure-probe FILE [RUNS]`: reads FILE with tchinfo's TorchScript/state-dict reader RUNS times
//! (default 1), prints the totals and the fastest in-process time. See Cargo.toml for why it exists.

#![allow(dead_code)]

#[path = "../../../src/dtype.rs"]
mod dtype;
#[path = "../../../src/summary/mod.rs"]
mod summary;

#[path = "../../../src/sources/torchscript/mod.rs"]
mod torchscript;

mod sources {
    //! The error type of `src/sources/mod.rs`, which cannot be included whole: it also declares the
    //! libtorch-backed sources.
    use std::path::PathBuf;

    #[derive(Debug)]
    pub enum SourceError {
        Io { path: PathBuf, source: std::io::Error },
        Format { path: PathBuf, problem: String },
    }

    impl SourceError {
        pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
            SourceError::Format { path: path.into(), problem: problem.into() }
        }
    }

    impl std::fmt::Display for SourceError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                SourceError::Io { path, source } => write!(f, "{}: {source}", path.display()),
                SourceError::Format { path, problem } => write!(f, "{}: {problem}", path.display()),
            }
        }
    }
}

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args.get(1) else {
        eprintln!("usage: structure-probe FILE [RUNS]");
        return ExitCode::from(2);
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(1).max(1);
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let result = torchscript::read_file(Path::new(file));
        best = best.min(start.elapsed());
        last = Some(result);
    }
    match last.expect("at least one run") {
        Ok(s) => {
            let t = s.totals();
            let modules = s.root.walk().len();
            println!(
                "{file}: {modules} modules, {} parameters ({} trainable), {} buffer elements, {} parameter bytes",
                t.params, t.trainable, t.buffers, t.param_bytes
            );
            println!("fastest of {runs}: {:.3} ms in process", best.as_secs_f64() * 1e3);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
