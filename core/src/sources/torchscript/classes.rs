//! The class declarations TorchScript writes under `code/`: which attributes of a module are parameters,
//! which are buffers, and the declared type of each attribute.
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
    /// `name : Type` and `__annotations__["name"] = Type` lines, in order.
    pub attributes: Vec<(String, String)>,
}

/// Classes by fully qualified name (`__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d`).
#[derive(Debug, Default)]
pub struct ClassTable {
    classes: HashMap<String, ClassInfo>,
}

impl ClassTable {
    pub fn get(&self, qualified: &str) -> Option<&ClassInfo> {
        self.classes.get(qualified)
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Adds the classes of one code file; `python_module` is its dotted path (`__torch__.torchvision.models.resnet`).
    pub fn add_source(&mut self, python_module: &str, source: &str) {
        for (name, info) in parse_classes(source) {
            self.classes.insert(format!("{python_module}.{name}"), info);
        }
    }
}

/// The code file (relative to the archive's `code/` folder) that declares a Python module's classes.
pub fn code_path(python_module: &str) -> String {
    format!("{}.py", python_module.replace('.', "/"))
}

/// Classes declared in one file, in order.
pub fn parse_classes(source: &str) -> Vec<(String, ClassInfo)> {
    let mut out: Vec<(String, ClassInfo)> = Vec::new();
    let mut in_header = false;
    for line in source.lines() {
        if let Some(rest) = line.strip_prefix("class ") {
            let (name, base) = match rest.find('(') {
                Some(i) => (&rest[..i], rest[i + 1..].split(')').next().unwrap_or("")),
                None => (rest.trim_end_matches(':'), ""),
            };
            let info = ClassInfo {
                is_module: base.trim() == "Module",
                ..ClassInfo::default()
            };
            out.push((name.trim().to_string(), info));
            in_header = true;
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
        } else if let Some(list) = body.strip_prefix("__buffers__ = ") {
            info.buffers = string_literals(list);
        } else if let Some(rest) = body.strip_prefix("__annotations__[") {
            // __annotations__["0"] = __torch__.….Linear   (ModuleList / Sequential children)
            let mut names = string_literals(rest);
            if let (Some(name), Some((_, ty))) = (names.pop(), rest.split_once("] = ")) {
                info.attributes.push((name, ty.trim().to_string()));
            }
        } else if let Some((name, ty)) = body.split_once(" : ") {
            let ty = ty.split(" = ").next().unwrap_or(ty);
            info.attributes
                .push((name.trim().to_string(), ty.trim().to_string()));
        }
    }
    out
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
        let classes = parse_classes(CONV);
        assert_eq!(classes.len(), 3);
        let (name, conv) = &classes[0];
        assert_eq!(name, "Conv2d");
        assert!(conv.is_module);
        assert_eq!(conv.parameters, ["weight", "bias"]);
        assert!(conv.buffers.is_empty());
        let names: Vec<_> = conv.attributes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["weight", "bias", "training", "stride"]);
        assert_eq!(conv.attributes[1].1, "Optional[Tensor]");
        assert_eq!(
            classes[1].1.attributes,
            [("0".to_string(), "__torch__.MyBlock".to_string())]
        );
        assert!(!classes[2].1.is_module);
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
