//! The class declarations TorchScript writes under `code/`: which classes are modules, and which
//! attributes of a module are parameters and which are buffers.
//!
//! A file `code/__torch__/torch/nn/modules/conv/___torch_mangle_3.py` holds
//! ```text
//! class Conv2d(Module):
//!   __parameters__ = ["weight", "bias", ]
//!   __buffers__ = []
//!   weight : Tensor
//!   bias : Optional[Tensor]
//!   training : bool
//!   def forward(self: …
//! ```
//! Only these header lines are read; method bodies are skipped. The source is never compiled or run.

use std::collections::HashMap;

/// One class as declared in the archive's code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClassInfo {
    /// `class X(Module):` — a module, as opposed to a scripted class or named tuple.
    pub is_module: bool,
    pub parameters: Vec<String>,
    pub buffers: Vec<String>,
}

/// Classes by Python module and class name (`__torch__.torch.nn.modules.conv.___torch_mangle_3` and
/// `Conv2d`). The module name is stored once per file, not once per class: a code file may declare a
/// million classes under a 64 KiB module name.
#[derive(Debug, Default)]
pub struct ClassTable {
    modules: HashMap<String, HashMap<String, ClassInfo>>,
    /// Names kept so far (parameters and buffers), against [`MAX_DECLARED_NAMES`].
    names: usize,
}

/// The most parameter and buffer names a table holds. Each costs about 50 bytes however short
/// it is written, so this bounds the table near 25 MiB; real models declare a few thousand.
pub const MAX_DECLARED_NAMES: usize = 1 << 19;

impl ClassTable {
    /// A class by its fully qualified name (`__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d`).
    pub fn get(&self, qualified: &str) -> Option<&ClassInfo> {
        let (module, name) = qualified.rsplit_once('.')?;
        self.get_in(module, name)
    }

    /// A class by the module and the name a pickle's global gives.
    pub fn get_in(&self, python_module: &str, name: &str) -> Option<&ClassInfo> {
        self.modules.get(python_module)?.get(name)
    }

    pub fn len(&self) -> usize {
        self.modules.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds the classes of one code file for which `keep(class name)` holds (the ones a pickle
    /// instantiates); `python_module` is its dotted path (`__torch__.torchvision.models.resnet`).
    pub fn add_source(
        &mut self,
        python_module: &str,
        source: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        let left = MAX_DECLARED_NAMES - self.names;
        let (parsed, names) = parse_some_classes(source, keep, left)?;
        self.names += names;
        let classes = self.modules.entry(python_module.to_string()).or_default();
        for (name, info) in parsed {
            classes.insert(name, info);
        }
        Ok(())
    }
}

/// The code file (relative to the archive's `code/` folder) that declares a Python module's classes.
pub fn code_path(python_module: &str) -> String {
    format!("{}.py", python_module.replace('.', "/"))
}

/// Classes declared in one file, in order; an error when they declare more than
/// [`MAX_DECLARED_NAMES`] names.
pub fn parse_classes(source: &str) -> Result<Vec<(String, ClassInfo)>, String> {
    parse_some_classes(source, |_| true, MAX_DECLARED_NAMES).map(|(classes, _)| classes)
}

/// The classes `keep` accepts, and how many names they declare (at most `max_names`). The classes left
/// out cost nothing but the scan: their lines are skipped.
fn parse_some_classes(
    source: &str,
    keep: impl Fn(&str) -> bool,
    max_names: usize,
) -> Result<(Vec<(String, ClassInfo)>, usize), String> {
    let mut out: Vec<(String, ClassInfo)> = Vec::new();
    let mut in_header = false;
    let mut skipping = false;
    let mut names = 0usize;
    let mut count = |n: usize| {
        names += n;
        if names > max_names {
            Err(format!(
                "the code declares more than {MAX_DECLARED_NAMES} parameter and buffer names"
            ))
        } else {
            Ok(())
        }
    };
    for line in source.lines() {
        if let Some(rest) = line.strip_prefix("class ") {
            let (name, base) = match rest.find('(') {
                Some(i) => (&rest[..i], rest[i + 1..].split(')').next().unwrap_or("")),
                None => (rest.trim_end_matches(':'), ""),
            };
            let name = name.trim();
            skipping = !keep(name);
            if !skipping {
                let info = ClassInfo {
                    is_module: base.trim() == "Module",
                    ..ClassInfo::default()
                };
                out.push((name.to_string(), info));
            }
            in_header = true;
            continue;
        }
        if skipping {
            continue;
        }
        let Some((_, info)) = out.last_mut() else {
            continue;
        };
        if !line.starts_with(' ') {
            in_header = false;
            continue;
        }
        // Attribute declarations sit at two spaces of indent before the first method.
        let Some(body) = line.strip_prefix("  ").filter(|b| !b.starts_with(' ')) else {
            continue;
        };
        if body.starts_with("def ") || body.starts_with('@') {
            in_header = false;
        }
        if !in_header {
            continue;
        }
        if let Some(list) = body.strip_prefix("__parameters__ = ") {
            info.parameters = string_literals(list);
            count(info.parameters.len())?;
        } else if let Some(list) = body.strip_prefix("__buffers__ = ") {
            info.buffers = string_literals(list);
            count(info.buffers.len())?;
        }
        // Attribute lines (`name : Type`, `__annotations__["0"] = Type`) are skipped: the walk tells
        // children and tensors apart by the pickled values and the two lists above.
    }
    Ok((out, names))
}

/// The double-quoted strings in `["weight", "bias", ]`.
fn string_literals(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut lit = String::new();
        loop {
            match chars.next() {
                Some('"') | None => break,
                Some('\\') => {
                    if let Some(e) = chars.next() {
                        lit.push(e);
                    }
                }
                Some(c) => lit.push(c),
            }
        }
        out.push(lit);
    }
    out
}

/// A class name as people know it: the last component, mangling gone
/// (`__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d` → `Conv2d`).
pub fn display_name(qualified: &str) -> &str {
    qualified.rsplit('.').next().unwrap_or(qualified)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONV: &str = "class Conv2d(Module):
  __parameters__ = [\"weight\", \"bias\", ]
  __buffers__ = []
  weight : Tensor
  bias : Optional[Tensor]
  training : bool
  stride : Final[Tuple[int, int]] = (1, 1)
  def forward(self: __torch__.torch.nn.modules.conv.Conv2d,
    input: Tensor) -> Tensor:
    x : int = 1
    return input
class ModuleList(Module):
  __parameters__ = []
  __buffers__ = []
  __annotations__[\"0\"] = __torch__.MyBlock
  def __len__(self) -> int:
    return 1
class Point(NamedTuple):
  x : int
";

    #[test]
    fn reads_headers_only() {
        let classes = parse_classes(CONV).unwrap();
        assert_eq!(classes.len(), 3);
        let (name, conv) = &classes[0];
        assert_eq!(name, "Conv2d");
        assert!(conv.is_module);
        assert_eq!(conv.parameters, ["weight", "bias"]);
        assert!(conv.buffers.is_empty());
        assert!(classes[1].1.is_module);
        assert!(classes[1].1.parameters.is_empty());
        assert!(!classes[2].1.is_module);
    }

    #[test]
    fn only_wanted_classes_are_kept_and_names_are_bounded() {
        let mut table = ClassTable::default();
        table
            .add_source("__torch__.m", CONV, |name| name == "ModuleList")
            .unwrap();
        assert_eq!(table.len(), 1);
        assert!(table.get("__torch__.m.ModuleList").is_some());
        assert!(table.get_in("__torch__.m", "Conv2d").is_none());

        let list = vec!["\"p\""; MAX_DECLARED_NAMES + 1].join(", ");
        let huge = format!("class M(Module):\n  __parameters__ = [{list}]\n");
        let e = table.add_source("__torch__", &huge, |_| true).unwrap_err();
        assert!(e.contains("more than"), "{e}");
        // A class nobody wants costs nothing.
        assert!(table.add_source("__torch__", &huge, |_| false).is_ok());
    }

    #[test]
    fn names() {
        assert_eq!(
            display_name("__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d"),
            "Conv2d"
        );
        assert_eq!(
            code_path("__torch__.torch.nn.modules.conv"),
            "__torch__/torch/nn/modules/conv.py"
        );
        assert_eq!(code_path("__torch__"), "__torch__.py");
    }
}
