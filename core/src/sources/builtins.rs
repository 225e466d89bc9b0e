//! What a MODEL argument names: a built-in architecture or a file, decided here for both binaries
//! (the front, which has no libtorch, must know which of the two it is given).
//!
//! A name is a built-in when it is one of [`names`] (or a language model's Hub id, such as
//! `meta-llama/Llama-3.1-8B`) and nothing of that name exists in the working directory, or when it is
//! written `builtin:NAME`. When both exist, the argument is refused ([`SourceError::Ambiguous`]): a file
//! called `resnet18`, or a model folder cloned as `meta-llama/Llama-3.1-8B`, must not run or be read
//! in place of the built-in, nor the other way round. Anything else is a file.

use super::SourceError;
use std::ffi::OsStr;
use std::path::Path;

/// Every built-in name, as `tchinfo list` shows them: the image models of the catalogue, then the
/// language models of the presets (each also known by its Hugging Face Hub id).
pub fn names() -> impl Iterator<Item = &'static str> {
    let images = super::catalog::CATALOG.iter().map(|b| b.name);
    images.chain(
        crate::architectures::presets::PRESETS
            .iter()
            .map(|p| p.name),
    )
}

/// The explicit form of a built-in: `builtin:resnet18` is the built-in whatever the working directory
/// holds.
pub const PREFIX: &str = "builtin:";

/// True when `name` is a built-in architecture or language model (case does not matter; a language
/// model by its Hub id too).
pub fn is_builtin(name: &str) -> bool {
    super::catalog::find(name).is_some() || crate::architectures::presets::find(name).is_some()
}

/// The built-in name closest to a mistyped `name`, if one is plausibly meant.
pub fn suggest(name: &str) -> Option<String> {
    closest(name, names()).map(str::to_string)
}

/// What a MODEL argument refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelRef<'a> {
    /// A built-in architecture, by the name the user wrote (without `builtin:`).
    Builtin(&'a str),
    /// A path to a model file (or to whatever is there: the file readers say what it is).
    File(&'a Path),
}

impl<'a> ModelRef<'a> {
    /// Resolves `model` (see the module documentation) against the working directory.
    pub fn resolve(model: &'a OsStr) -> Result<ModelRef<'a>, SourceError> {
        ModelRef::resolve_with(model, |p| std::fs::symlink_metadata(p).is_ok())
    }

    /// [`ModelRef::resolve`], `exists` telling whether anything is at a path.
    fn resolve_with(
        model: &'a OsStr,
        exists: impl Fn(&Path) -> bool,
    ) -> Result<ModelRef<'a>, SourceError> {
        let Some(text) = model.to_str() else {
            return Ok(ModelRef::File(Path::new(model)));
        };
        if let Some(name) = text.strip_prefix(PREFIX) {
            return Ok(ModelRef::Builtin(name));
        }
        if !is_builtin(text) {
            return Ok(ModelRef::File(Path::new(model)));
        }
        if exists(Path::new(text)) {
            return Err(SourceError::Ambiguous {
                name: text.to_string(),
            });
        }
        Ok(ModelRef::Builtin(text))
    }

    /// The file, when this is one.
    pub fn file(self) -> Option<&'a Path> {
        match self {
            ModelRef::File(p) => Some(p),
            ModelRef::Builtin(_) => None,
        }
    }
}

/// The closest of `names` to `typed`, if it is close enough to be a plausible typo: within a third of
/// the name's length in edits (at least 2), ignoring case, `-` vs `_` and a missing `_`.
fn closest<'a>(typed: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '_', ' '], "");
    let typed_n = norm(typed);
    let (best, distance) = names
        .into_iter()
        .map(|n| (n, edit_distance(&typed_n, &norm(n))))
        .min_by_key(|&(_, d)| d)?;
    let allowed = (typed_n.chars().count() / 3).max(2);
    (distance <= allowed).then_some(best)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of adjacent characters
/// (optimal string alignment), so `resnet05` is one edit from `resnet50`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between the first i characters of a and the first j of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 5] = ["vgg16", "vgg16_bn", "resnet50", "resnet18", "mobilenet_v2"];

    #[test]
    fn typos_find_the_intended_name() {
        assert_eq!(closest("vgg61", NAMES), Some("vgg16"));
        assert_eq!(closest("resnet-50", NAMES), Some("resnet50"));
        assert_eq!(closest("ResNet5", NAMES), Some("resnet50"));
        assert_eq!(closest("mobilenetv2", NAMES), Some("mobilenet_v2"));
        assert_eq!(closest("vgg16bn", NAMES), Some("vgg16_bn"));
    }

    #[test]
    fn unrelated_names_get_no_suggestion() {
        assert_eq!(closest("transformer", NAMES), None);
        assert_eq!(closest("my_model.pt", NAMES), None);
    }

    #[test]
    fn a_name_is_a_builtin_a_file_or_ambiguous() {
        fn resolve(s: &str) -> Result<ModelRef<'_>, String> {
            let here = |p: &Path| p == Path::new("resnet18");
            ModelRef::resolve_with(OsStr::new(s), here).map_err(|e| e.to_string())
        }
        assert_eq!(resolve("vgg16"), Ok(ModelRef::Builtin("vgg16")));
        assert_eq!(resolve("builtin:VGG16"), Ok(ModelRef::Builtin("VGG16")));
        assert_eq!(resolve("./vgg16"), Ok(ModelRef::File(Path::new("./vgg16"))));
        assert_eq!(resolve("m.pt"), Ok(ModelRef::File(Path::new("m.pt"))));
        assert_eq!(resolve("gpt2"), Ok(ModelRef::Builtin("gpt2")));
        assert_eq!(
            resolve("meta-llama/Llama-3.1-8B"),
            Ok(ModelRef::Builtin("meta-llama/Llama-3.1-8B"))
        );
        assert_eq!(
            resolve("models/gpt2"),
            Ok(ModelRef::File(Path::new("models/gpt2")))
        );
        // A file `resnet18` in the working directory: the bare name is both.
        let e = resolve("resnet18").unwrap_err();
        assert!(
            e.contains("./resnet18") && e.contains("builtin:resnet18"),
            "{e}"
        );
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("resnet05", "resnet50"), 1);
    }
}
