//! The summary report: the layer table with its footer.

use super::{footer, table};
use crate::summary::ModelSummary;

/// Table and footer, the rules of the footer as wide as the table.
pub fn render(summary: &ModelSummary, opts: &table::TableOptions) -> String {
    let totals = summary.totals();
    let table = table::render(summary, &totals, opts);
    let width = table.lines().map(|l| l.chars().count()).max().unwrap_or(80);
    let mut out = table;
    out += &footer::render_text(summary, &totals, width);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::summary::{ModuleNode, SourceKind, TensorRecord, TensorValue, macs};

    fn f32(shape: &[u64]) -> TensorValue {
        TensorValue {
            shape: shape.to_vec(),
            dtype: DType::Float32,
        }
    }

    fn layer(
        parent: &ModuleNode,
        name: &str,
        ty: &str,
        params: &[(&str, &[u64])],
        out: &[u64],
    ) -> ModuleNode {
        let mut n = ModuleNode::new(name, parent.child_path(name), ty);
        n.parameters = params
            .iter()
            .map(|(p, s)| TensorRecord::new(*p, s.to_vec(), DType::Float32, true))
            .collect();
        n.outputs = Some(vec![f32(out)]);
        n
    }

    /// A VGG-shaped toy: features (conv, relu, pool), classifier (three Linear layers).
    pub fn toy_vgg() -> ModelSummary {
        let mut root = ModuleNode::new("", "", "VGG");
        root.outputs = Some(vec![f32(&[1, 10])]);
        let mut features = ModuleNode::new("features", "features", "Sequential");
        features.kind = crate::summary::LayerKind::Container;
        features.outputs = Some(vec![f32(&[1, 8, 4, 4])]);
        let conv = layer(
            &features,
            "0",
            "Conv2d",
            &[("weight", &[8, 3, 3, 3]), ("bias", &[8])],
            &[1, 8, 8, 8],
        );
        let relu = layer(&features, "1", "ReLU", &[], &[1, 8, 8, 8]);
        let pool = layer(&features, "2", "MaxPool2d", &[], &[1, 8, 4, 4]);
        features.children = vec![conv, relu, pool];
        let mut classifier = ModuleNode::new("classifier", "classifier", "Sequential");
        classifier.kind = crate::summary::LayerKind::Container;
        classifier.outputs = Some(vec![f32(&[1, 10])]);
        let fc6 = layer(
            &classifier,
            "0",
            "Linear",
            &[("weight", &[32, 128]), ("bias", &[32])],
            &[1, 32],
        );
        let fc7 = layer(
            &classifier,
            "1",
            "Linear",
            &[("weight", &[32, 32]), ("bias", &[32])],
            &[1, 32],
        );
        let fc8 = layer(
            &classifier,
            "2",
            "Linear",
            &[("weight", &[10, 32]), ("bias", &[10])],
            &[1, 10],
        );
        classifier.children = vec![fc6, fc7, fc8];
        root.children = vec![features, classifier];
        let mut s = ModelSummary::new("toy", SourceKind::Builtin, root);
        s.inputs = vec![f32(&[1, 3, 8, 8])];
        macs::fill_torchinfo_mult_adds(&mut s.root);
        s
    }

    #[test]
    fn toy_vgg_table() {
        let s = toy_vgg();
        let text = render(&s, &table::TableOptions::default());
        println!("{text}");
        assert!(text.contains("├─Sequential: 1-1"));
        assert!(text.contains("│    └─Conv2d: 2-1"));
        assert!(text.contains("│    └─Linear: 2-4"));
        assert!(text.contains("fc6 (classifier.0)"));
        // 224 conv + 4,128 + 1,056 + 330 parameters.
        assert!(text.contains("Total params: 5,738"));
    }

    /// A tree 300 deep of modules named with 10,000 characters and an escape sequence: every row stays
    /// within a fixed width, so the table grows with its rows only.
    #[test]
    fn rows_stay_bounded_whatever_the_names_and_depth() {
        let long = format!("Evil\x1b]0;owned\x07{}", "x".repeat(10_000));
        let mut node = ModuleNode::new("leaf", "leaf", &long);
        for depth in (1..300).rev() {
            let mut parent = ModuleNode::new(&long, format!("p{depth}"), &long);
            parent.children.push(node);
            node = parent;
        }
        let mut root = ModuleNode::new("", "", &long);
        root.children.push(node);
        let s = ModelSummary::new(long.clone(), SourceKind::Builtin, root);
        let opts = table::TableOptions {
            max_depth: 300,
            var_names: true,
            ..Default::default()
        };
        let text = render(&s, &opts);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest < 160, "{widest}");
        assert!(!text.contains('\x1b'), "escaped");
        assert!(text.contains("Evil\\u{1b}]0;owned"), "shown escaped");
        assert!(
            text.contains("+292 └─"),
            "deep rows count their hidden levels"
        );
        assert!(text.len() < 301 * 400, "{}", text.len());
        let md = crate::reports::markdown::render(&s, &opts);
        assert!(md.lines().all(|l| l.chars().count() < 400));
    }
}
