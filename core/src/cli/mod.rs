//! The command line: argument definitions (clap derive) and dispatch to the reports.
//!
//! Sources are reached through [`Loader`]: the `tchinfo` front binary uses [`FileLoader`] (files, no
//! libtorch) and hands everything else to `tchinfo-torch`, whose loader adds built-ins and forward passes.

mod args;
mod commands;
mod loader;

pub use args::*;
pub use loader::{FileLoader, Loader, needs_libtorch};

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use std::ffi::{OsStr, OsString};

/// How a run failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Arguments that cannot be used (exit code 2, like clap's own errors).
    Usage(anyhow::Error),
    /// A model, file or computation that failed (exit code 1).
    Run(anyhow::Error),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Run(_) => 1,
        }
    }

    pub fn error(&self) -> &anyhow::Error {
        match self {
            Failure::Usage(e) | Failure::Run(e) => e,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

const SUBCOMMANDS: &[&str] = &[
    "summary", "compare", "plan", "lint", "linear", "list", "help",
];

/// `tchinfo vgg16` means `tchinfo summary vgg16`, options before or after the model (`tchinfo --depth 1
/// model.pt`): insert the subcommand when the first positional argument is not one.
pub fn normalize_args(mut args: Vec<OsString>) -> Vec<OsString> {
    let shorthand = first_positional(args.get(1..).unwrap_or_default())
        .is_some_and(|p| !p.to_str().is_some_and(|p| SUBCOMMANDS.contains(&p)));
    if shorthand {
        args.insert(1, OsString::from("summary"));
    }
    args
}

/// The first argument that is neither an option nor an option's value, reading options as `summary`
/// defines them (so the value of `--output list` is not taken for the `list` command).
fn first_positional(args: &[OsString]) -> Option<&OsStr> {
    let cli = Cli::command();
    let summary = cli.find_subcommand("summary")?;
    let takes_value = |matches: &dyn Fn(&clap::Arg) -> bool| {
        summary
            .get_arguments()
            .any(|a| matches(a) && a.get_action().takes_values())
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(text) = arg.to_str() else {
            return Some(arg);
        };
        if text == "--" {
            return rest.next().map(OsString::as_os_str);
        }
        if let Some(long) = text.strip_prefix("--") {
            // `--depth=1` carries its value; `--depth 1` takes the next argument.
            if !long.contains('=') && takes_value(&|a| a.get_long() == Some(long)) {
                rest.next();
            }
            continue;
        }
        if let Some(short) = text.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            if let (Some(c), None) = (chars.next(), chars.next())
                && takes_value(&|a| a.get_short() == Some(c))
            {
                rest.next();
            }
            continue;
        }
        return Some(arg);
    }
    None
}

pub use commands::run;

/// The process arguments, parsed (`tchinfo vgg16` meaning `tchinfo summary vgg16`). Bad arguments exit
/// here with the first line of clap's message, prefixed like every other error (`tchinfo: error: …`),
/// and code 2; `--help` and `--version` print as clap prints them.
pub fn parse() -> Cli {
    match Cli::try_parse_from(normalize_args(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e)
            if !e.use_stderr()
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        Err(e) => {
            eprintln!("{}", usage_error_line(&e));
            std::process::exit(e.exit_code());
        }
    }
}

/// A usage error in one line, as every other error is: clap's render adds a tip, the usage and a
/// pointer to --help on lines of their own, and only its first line (`error: …`) says what is wrong.
fn usage_error_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("error: invalid arguments");
    format!("tchinfo: {} (see tchinfo --help)", first.trim_end())
}

/// Prints a failure as one line on stderr (escaped and bounded: it may quote a file's names or what the
/// model's code said) and exits with its code.
pub fn exit_on_failure(result: Result<(), Failure>) {
    if let Err(failure) = result {
        let message = crate::text::one_line(&format!("{:#}", failure.error()));
        eprintln!("tchinfo: error: {message}");
        std::process::exit(failure.exit_code());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_error_is_one_line() {
        let e = Cli::try_parse_from(["tchinfo", "summary", "--bogus", "m.pt"]).unwrap_err();
        assert_eq!(
            usage_error_line(&e),
            "tchinfo: error: unexpected argument '--bogus' found (see tchinfo --help)"
        );
    }

    fn normalized(args: &[&str]) -> Vec<String> {
        let os = std::iter::once("tchinfo")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        normalize_args(os)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn the_shorthand_takes_options_before_the_model() {
        assert_eq!(normalized(&["vgg16"]), ["summary", "vgg16"]);
        assert_eq!(
            normalized(&["--depth", "1", "m.pt"]),
            ["summary", "--depth", "1", "m.pt"]
        );
        assert_eq!(
            normalized(&["--depth=1", "--ascii", "m.pt"]),
            ["summary", "--depth=1", "--ascii", "m.pt"]
        );
        // An option's value is not the model, even when it reads like a command.
        assert_eq!(
            normalized(&["-o", "list", "m.pt"]),
            ["summary", "-o", "list", "m.pt"]
        );
        assert_eq!(
            normalized(&["--output", "plan", "--format", "json", "m.pt"]),
            ["summary", "--output", "plan", "--format", "json", "m.pt"]
        );
        assert_eq!(normalized(&["--", "-odd.pt"]), ["summary", "--", "-odd.pt"]);
        // Commands, and options alone (top-level --help, --version), are left to clap.
        assert_eq!(normalized(&["plan", "vgg16"]), ["plan", "vgg16"]);
        assert_eq!(normalized(&["--help"]), ["--help"]);
        assert_eq!(normalized(&["-V"]), ["-V"]);
        assert_eq!(normalized(&[]), Vec::<String>::new());
    }

    #[test]
    fn the_shorthand_parses_like_the_summary_command() {
        let args: Vec<OsString> = ["tchinfo", "--depth", "1", "--format", "json", "m.pt"]
            .map(OsString::from)
            .to_vec();
        let Command::Summary(s) = Cli::try_parse_from(normalize_args(args)).unwrap().command else {
            panic!("not the summary command");
        };
        assert_eq!((s.model.to_str(), s.depth), (Some("m.pt"), 1));
    }
}
