//! The names papers give to fully connected layers: VGG and AlexNet call their classifier's three Linear
//! layers fc6, fc7 and fc8 (after the Caffe reference models), so people look for those names.

use crate::summary::{LayerKind, ModelSummary};
use std::collections::HashMap;

/// Paper names by module path (`classifier.0` → `fc6`), for models whose root class names a VGG or an
/// AlexNet (`VGG`, `VggTiny`, `AlexNet`) and whose Linear layers are exactly three.
pub fn paper_names(summary: &ModelSummary) -> HashMap<String, String> {
    let mut names = HashMap::new();
    let class = summary.root.type_name.to_ascii_lowercase();
    if !(class.starts_with("vgg") || class.starts_with("alexnet")) {
        return names;
    }
    let linears: Vec<&str> = summary
        .root
        .walk()
        .into_iter()
        .filter(|(_, n)| n.kind == LayerKind::Linear && n.own_params() > 0)
        .map(|(_, n)| n.path.as_str())
        .collect();
    if linears.len() == 3 {
        for (i, path) in linears.into_iter().enumerate() {
            names.insert(path.to_string(), format!("fc{}", 6 + i));
        }
    }
    names
}
