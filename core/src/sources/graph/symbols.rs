//! Giving the symbols of a graph's sizes their values, with nothing run: from the example the file
//! records (a `.pt2` keeps the sizes its export ran with), or from what the user asks for
//! (`--batch-size`, `--input-size`), checked against what the file allows.
//!
//! The model's inputs bind the symbols: an input dimension recorded as a bare symbol (`s77`, `batch`)
//! takes the size asked for it; every other size is an expression [`sizes::parse`] reads and
//! [`Symbols::size`] evaluates. A dimension the file fixes cannot be changed, and saying so is the
//! answer when the user asks for another batch of a model exported with a fixed one.

use super::sizes::{self, Expr};
use crate::sources::LoadOptions;
use std::collections::HashMap;

/// One dimension as a file records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    Fixed(u64),
    /// An expression over symbols (`Symbol('s77', …)`, `4*s77`, `batch`), with the value it had in the
    /// export's example run when the file says.
    Symbolic {
        text: String,
        hint: Option<u64>,
    },
    /// The file records nothing for this dimension.
    Unknown,
}

/// The sizes the user asked for: `--batch-size` (the first dimension of every input) and
/// `--input-size` (each input in full).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SizeRequest {
    pub batch: Option<u64>,
    pub inputs: Vec<Vec<u64>>,
}

impl SizeRequest {
    pub fn from_options(opts: &LoadOptions) -> SizeRequest {
        let positive = |d: i64| u64::try_from(d).unwrap_or(0);
        SizeRequest {
            batch: opts.batch_size.map(positive),
            inputs: opts
                .input_sizes
                .iter()
                .map(|s| s.iter().map(|&d| positive(d)).collect())
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.batch.is_none() && self.inputs.is_empty()
    }
}

/// One input of the model, as the file records it.
#[derive(Debug, Clone)]
pub struct ModelInput {
    pub name: String,
    pub dims: Vec<Dim>,
}

/// The values of a graph's size symbols, and the sizes evaluated from them.
#[derive(Debug, Default)]
pub struct Symbols {
    values: HashMap<String, i64>,
    /// The user asked for sizes: every expression is evaluated, and one that cannot be is an error.
    asked: bool,
    cache: HashMap<String, Result<Option<u64>, String>>,
    /// What a reader should be told about the sizes shown, if anything.
    pub note: Option<String>,
}

/// The most distinct size expressions kept evaluated (a hostile file could write millions).
const MAX_CACHED: usize = 1 << 16;

/// The lower and upper bounds a file sets on a symbol, where it sets them.
pub type Bounds = (Option<i64>, Option<i64>);

impl Symbols {
    /// Values for every symbol an input dimension names: what `request` asks for, else the file's
    /// example. `range` gives the bounds the file sets on a symbol. `default_batch` is what a symbolic
    /// first dimension without an example takes (ONNX records no example).
    pub fn bind(
        inputs: &[ModelInput],
        request: &SizeRequest,
        range: &dyn Fn(&str) -> Bounds,
        default_batch: Option<u64>,
    ) -> Result<Symbols, String> {
        let mut s = Symbols::default();
        // Symbols the inputs name, with the example value the file gives.
        let mut examples: Vec<(String, Option<u64>, String)> = Vec::new();
        for input in inputs {
            for (d, dim) in input.dims.iter().enumerate() {
                if let Dim::Symbolic { text, hint } = dim
                    && let Ok(Expr::Symbol(name)) = sizes::parse(text)
                    && !examples.iter().any(|(n, _, _)| *n == name)
                {
                    examples.push((name, *hint, format!("input {}, dimension {d}", input.name)));
                }
            }
        }
        if request.is_empty() {
            let mut shown = Vec::new();
            let mut defaulted = Vec::new();
            for (name, hint, place) in &examples {
                match hint {
                    Some(h) => {
                        s.values.insert(name.clone(), *h as i64);
                        shown.push(format!("{name} = {h} ({place})"));
                    }
                    None if place.ends_with("dimension 0") => {
                        if let Some(b) = default_batch {
                            s.values.insert(name.clone(), b as i64);
                            defaulted.push(format!("'{name}' ({place})"));
                        }
                    }
                    None => {}
                }
            }
            let mut parts = Vec::new();
            if !shown.is_empty() {
                parts.push(format!(
                    "sizes the file records as symbols are shown at the example it records: {}",
                    shown.join(", ")
                ));
            }
            if !defaulted.is_empty() {
                parts.push(format!(
                    "the file gives no example value for the batch size {}: shown at {}",
                    defaulted.join(", "),
                    default_batch.unwrap_or(1)
                ));
            }
            let unset: Vec<&str> = examples
                .iter()
                .filter(|(n, _, _)| !s.values.contains_key(n))
                .map(|(n, _, _)| n.as_str())
                .collect();
            if !unset.is_empty() {
                parts.push(format!(
                    "the file gives no value for {}, so sizes that depend on {} are not shown",
                    unset.join(", "),
                    if unset.len() == 1 { "it" } else { "them" }
                ));
            }
            if !parts.is_empty() {
                s.note = Some(format!(
                    "{}; --batch-size or --input-size evaluates them at other sizes, with nothing run",
                    parts.join("; ")
                ));
            }
            return Ok(s);
        }

        s.asked = true;
        let mut bound: Vec<(String, u64, String)> = Vec::new();
        let mut bind = |name: String, value: u64, place: String| -> Result<(), String> {
            match bound.iter().find(|(n, _, _)| *n == name) {
                Some((_, v, first)) if *v != value => Err(format!(
                    "{place} and {first} are the same size ({name}) in the file, but {value} and {v} were asked for"
                )),
                Some(_) => Ok(()),
                None => {
                    bound.push((name, value, place));
                    Ok(())
                }
            }
        };
        if !request.inputs.is_empty() && request.inputs.len() != inputs.len() {
            let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(format!(
                "the model takes {} tensor input{} ({}); {} --input-size given",
                inputs.len(),
                if inputs.len() == 1 { "" } else { "s" },
                names.join(", "),
                request.inputs.len()
            ));
        }
        for (i, input) in inputs.iter().enumerate() {
            let mut wanted: Vec<Option<u64>> = match request.inputs.get(i) {
                Some(given) => {
                    if given.len() != input.dims.len() {
                        return Err(format!(
                            "input {} has {} dimensions in the file; --input-size gave {}",
                            input.name,
                            input.dims.len(),
                            given.len()
                        ));
                    }
                    given.iter().copied().map(Some).collect()
                }
                None => vec![None; input.dims.len()],
            };
            if let (Some(b), Some(first)) = (request.batch, wanted.first_mut()) {
                *first = Some(b);
            }
            for (d, (dim, want)) in input.dims.iter().zip(&wanted).enumerate() {
                let Some(want) = *want else { continue };
                let place = format!("input {}, dimension {d}", input.name);
                match dim {
                    Dim::Fixed(f) if *f == want => {}
                    Dim::Fixed(f) => {
                        let why = if d == 0 && request.inputs.is_empty() {
                            " (exported without a dynamic batch dimension)"
                        } else {
                            ""
                        };
                        return Err(format!(
                            "{place} is fixed at {f} in the file{why}, so its shapes cannot be read at {want}"
                        ));
                    }
                    Dim::Symbolic { text, .. } => match sizes::parse(text) {
                        Ok(Expr::Symbol(name)) => {
                            let (lo, hi) = range(&name);
                            let w = want as i64;
                            if lo.is_some_and(|lo| w < lo) || hi.is_some_and(|hi| w > hi) {
                                return Err(format!(
                                    "{place} ({name}) may only be {} in the file; {want} was asked for",
                                    describe_range(lo, hi)
                                ));
                            }
                            bind(name, want, place)?;
                        }
                        _ => {
                            return Err(format!(
                                "{place} is `{}` in the file, derived from other sizes: it cannot be set",
                                shown(text)
                            ));
                        }
                    },
                    Dim::Unknown => {
                        return Err(format!(
                            "{place} has no recorded size in the file, so it cannot be set"
                        ));
                    }
                }
            }
        }
        for (name, value, _) in &bound {
            s.values.insert(name.clone(), *value as i64);
        }
        // Symbols not asked for keep the file's example.
        for (name, hint, _) in &examples {
            if let (false, Some(h)) = (s.values.contains_key(name), hint) {
                s.values.insert(name.clone(), *h as i64);
            }
        }
        if !bound.is_empty() {
            let list: Vec<String> = bound
                .iter()
                .map(|(n, v, place)| format!("{n} = {v} ({place})"))
                .collect();
            s.note = Some(format!(
                "sizes evaluated from the file's size expressions at {}, with nothing run",
                list.join(", ")
            ));
        }
        Ok(s)
    }

    /// The size of one dimension: `None` when the file does not record it, or it depends on a value
    /// known only when the model runs (PyTorch's `u0` of `nonzero`).
    pub fn size(&mut self, dim: &Dim) -> Result<Option<u64>, String> {
        match dim {
            Dim::Fixed(v) => Ok(Some(*v)),
            Dim::Unknown => Ok(None),
            Dim::Symbolic { text, hint } => {
                if let (false, Some(h)) = (self.asked, hint) {
                    return Ok(Some(*h));
                }
                if let Some(known) = self.cache.get(text) {
                    return known.clone();
                }
                let result = self.evaluate(text);
                if self.cache.len() < MAX_CACHED {
                    self.cache.insert(text.clone(), result.clone());
                }
                result
            }
        }
    }

    /// Every dimension's size, or `None` when one is not known.
    pub fn shape(&mut self, dims: &[Dim]) -> Result<Option<Vec<u64>>, String> {
        let mut out = Vec::with_capacity(dims.len());
        for d in dims {
            match self.size(d)? {
                Some(v) => out.push(v),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    fn evaluate(&self, text: &str) -> Result<Option<u64>, String> {
        let expr = match sizes::parse(text) {
            Ok(e) => e,
            Err(e) if self.asked => return Err(e),
            Err(_) => return Ok(None),
        };
        // A symbol with no value at all is one only a run can give (data-dependent sizes).
        if expr.symbols().iter().any(|s| !self.values.contains_key(*s)) {
            return Ok(None);
        }
        match expr.eval(&|s| self.values.get(s).copied()) {
            Ok(v) => Ok(Some(v)),
            Err(e) if self.asked => Err(format!(
                "the size `{expr}` cannot be evaluated at the sizes asked for: {e}"
            )),
            Err(_) => Ok(None),
        }
    }
}

/// A size expression as a user reads it: `4*s77`, not sympy's `Mul(Integer(4), Symbol('s77', …))`.
pub fn shown(text: &str) -> String {
    sizes::parse(text)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| text.to_string())
}

fn describe_range(lo: Option<i64>, hi: Option<i64>) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
        (Some(lo), None) => format!("at least {lo}"),
        (None, Some(hi)) => format!("at most {hi}"),
        (None, None) => "anything".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "Symbol('s77', positive=True, integer=True)";

    fn inputs() -> Vec<ModelInput> {
        vec![ModelInput {
            name: "x".into(),
            dims: vec![
                Dim::Symbolic {
                    text: S.into(),
                    hint: Some(2),
                },
                Dim::Fixed(3),
            ],
        }]
    }

    fn no_range(_: &str) -> (Option<i64>, Option<i64>) {
        (None, None)
    }

    #[test]
    fn the_example_unless_other_sizes_are_asked_for() {
        let derived = Dim::Symbolic {
            text: format!("Mul(Integer(4), {S})"),
            hint: Some(8),
        };
        let mut s = Symbols::bind(&inputs(), &SizeRequest::default(), &no_range, None).unwrap();
        assert_eq!(s.size(&derived), Ok(Some(8)));
        assert!(
            s.note
                .as_ref()
                .unwrap()
                .contains("s77 = 2 (input x, dimension 0)")
        );
        let batch = SizeRequest {
            batch: Some(5),
            inputs: vec![],
        };
        let mut s = Symbols::bind(&inputs(), &batch, &no_range, None).unwrap();
        assert_eq!(s.size(&derived), Ok(Some(20)));
        assert!(s.note.as_ref().unwrap().contains("s77 = 5"));
        let full = SizeRequest {
            batch: None,
            inputs: vec![vec![7, 3]],
        };
        let mut s = Symbols::bind(&inputs(), &full, &no_range, None).unwrap();
        assert_eq!(s.shape(&[derived, Dim::Fixed(1)]), Ok(Some(vec![28, 1])));
    }

    #[test]
    fn fixed_sizes_and_ranges_are_kept() {
        let fixed = vec![ModelInput {
            name: "x".into(),
            dims: vec![Dim::Fixed(1), Dim::Fixed(3)],
        }];
        let batch = SizeRequest {
            batch: Some(2),
            inputs: vec![],
        };
        let e = Symbols::bind(&fixed, &batch, &no_range, None).unwrap_err();
        assert!(
            e.contains("fixed at 1") && e.contains("dynamic batch"),
            "{e}"
        );
        let e = Symbols::bind(&inputs(), &batch, &|_| (Some(3), Some(8)), None).unwrap_err();
        assert!(e.contains("3 to 8"), "{e}");
        let wrong = SizeRequest {
            batch: None,
            inputs: vec![vec![2, 4]],
        };
        assert!(Symbols::bind(&inputs(), &wrong, &no_range, None).is_err());
        let two = SizeRequest {
            batch: None,
            inputs: vec![vec![2, 3], vec![1]],
        };
        let e = Symbols::bind(&inputs(), &two, &no_range, None).unwrap_err();
        assert!(
            e.contains("1 tensor input (x); 2 --input-size given"),
            "{e}"
        );
    }

    #[test]
    fn a_batch_without_example_takes_the_default() {
        let onnx = vec![ModelInput {
            name: "x".into(),
            dims: vec![
                Dim::Symbolic {
                    text: "batch".into(),
                    hint: None,
                },
                Dim::Symbolic {
                    text: "seq".into(),
                    hint: None,
                },
            ],
        }];
        let mut s = Symbols::bind(&onnx, &SizeRequest::default(), &no_range, Some(1)).unwrap();
        let shape = |t: &str| Dim::Symbolic {
            text: t.into(),
            hint: None,
        };
        assert_eq!(s.size(&shape("2*batch")), Ok(Some(2)));
        assert_eq!(s.size(&shape("seq + 1")), Ok(None));
        let note = s.note.unwrap();
        assert!(
            note.contains("batch size 'batch' (input x, dimension 0): shown at 1"),
            "{note}"
        );
        assert!(note.contains("no value for seq"), "{note}");
    }
}
