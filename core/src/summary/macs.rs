//! Mult-adds as torchinfo counts them, from parameters and measured output shapes.
//!
//! torchinfo (1.8) charges each parameter once per output position: for a convolution, every weight and
//! bias element × batch × the output's spatial positions (channels left out); for other layers' `weight`
//! and `bias`, × the batch (first output dimension) only; for other tensors whose name contains
//! "weight" or "bias" (`in_proj_weight`, `weight_ih_l0`), × the first two output dimensions. Everything
//! else (a class token, a positional embedding) costs nothing. A tied weight is charged in every layer
//! that uses it. The model's total sums leaf layers only ([`ModuleNode::subtree_mult_adds`]). It is a
//! parameter-based estimate; the operator-level count ([`ModuleNode::op_mult_adds`]) is the one that
//! sees attention matmuls.

use super::{ModuleNode, TensorValue};

/// Sets `mult_adds` on every module that has both its own parameters and a measured output.
pub fn fill_torchinfo_mult_adds(root: &mut ModuleNode) {
    root.visit_mut(&mut |node| {
        if let Some(m) = torchinfo_mult_adds(node) {
            node.mult_adds = Some(m);
        }
    });
}

/// torchinfo's count for one module over all its calls, or `None` when its output was not measured.
/// torchinfo's hooks make one row per call, each charged for its own output, and its total adds
/// them all: a module the forward calls twice costs twice.
pub fn torchinfo_mult_adds(node: &ModuleNode) -> Option<u64> {
    node.outputs.as_ref()?.first()?;
    Some(
        node.calls()
            .filter_map(|call| call.first())
            .map(|out| call_mult_adds(node, out))
            .fold(0, u64::saturating_add),
    )
}

/// One call's count, from the first tensor it returned.
fn call_mult_adds(node: &ModuleNode, first: &TensorValue) -> u64 {
    let shape = &first.shape;
    let batch = shape.first().copied().unwrap_or(1);
    let is_conv = node.type_name.contains("Conv");
    let mut total: u64 = 0;
    // A tied weight costs compute in every layer that uses it, as torchinfo charges it.
    for p in &node.parameters {
        let count = p.numel();
        let positions = if p.name == "weight" || p.name == "bias" {
            if is_conv {
                batch.saturating_mul(shape.iter().skip(2).product::<u64>())
            } else {
                batch
            }
        } else if p.name.contains("weight") || p.name.contains("bias") {
            shape.iter().take(2).product::<u64>()
        } else {
            0
        };
        total = total.saturating_add(count.saturating_mul(positions));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::summary::TensorRecord;

    fn layer(type_name: &str, params: &[(&str, Vec<u64>)], out: Vec<u64>) -> ModuleNode {
        let mut n = ModuleNode::new("x", "x", type_name);
        n.parameters = params
            .iter()
            .map(|(name, shape)| TensorRecord::new(*name, shape.clone(), DType::Float32, true))
            .collect();
        n.outputs = Some(vec![TensorValue {
            shape: out,
            dtype: DType::Float32,
        }]);
        n
    }

    #[test]
    fn conv_counts_spatial_positions() {
        // VGG-16 features.0: Conv2d(3, 64, 3) on 224×224 → 1,792 params × 50,176 positions.
        let n = layer(
            "Conv2d",
            &[("weight", vec![64, 3, 3, 3]), ("bias", vec![64])],
            vec![1, 64, 224, 224],
        );
        assert_eq!(torchinfo_mult_adds(&n), Some(1_792 * 224 * 224));
    }

    #[test]
    fn linear_counts_the_batch_only() {
        let n = layer(
            "Linear",
            &[("weight", vec![4096, 25088]), ("bias", vec![4096])],
            vec![2, 4096],
        );
        assert_eq!(torchinfo_mult_adds(&n), Some(2 * 102_764_544));
    }

    #[test]
    fn every_call_is_charged() {
        // A Linear called twice, on batches of 2 and 3: torchinfo's two rows cost 2× and 3× its params.
        let mut n = layer(
            "Linear",
            &[("weight", vec![8, 4]), ("bias", vec![8])],
            vec![2, 8],
        );
        n.repeat_outputs = vec![vec![TensorValue {
            shape: vec![3, 8],
            dtype: DType::Float32,
        }]];
        assert_eq!(torchinfo_mult_adds(&n), Some(40 * 2 + 40 * 3));
    }
}
