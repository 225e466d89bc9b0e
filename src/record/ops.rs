//! Products written inside a forward rather than held by a layer: the attention's scores and
//! weighted values, a matrix product. Each computes exactly what tch computes and, while a forward
//! is recorded, adds its mult-adds (the formulas every source uses, `op_macs`) to the innermost
//! recorded layer — so an attention module's row shows its projections *and* its attention product,
//! as the built-in transformers' rows do.

use super::session;
use tch::Tensor;
use tchinfo_core::op_macs::{self, Arg};

fn arg(t: &Tensor) -> Arg {
    Arg::Tensor(t.size().iter().map(|&d| d.max(0) as u64).collect())
}

/// `Tensor::scaled_dot_product_attention(q, k, v, mask, 0.0, causal, None, grouped)` on
/// (batch, heads, seq, head_dim) tensors; key and value may have fewer heads (grouped-query
/// attention), shared by the query heads. Counts its two products.
pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    causal: bool,
) -> Tensor {
    let grouped = k.size().get(1) != q.size().get(1);
    let out = Tensor::scaled_dot_product_attention(q, k, v, mask, 0.0, causal, None, grouped);
    session::count(|| {
        op_macs::mult_adds(
            "aten::scaled_dot_product_attention",
            &[arg(q), arg(k), arg(v), arg(&out)],
        )
    });
    out
}

/// `a.matmul(b)`, counted: one dot product of `a`'s last dimension per output element.
pub fn matmul(a: &Tensor, b: &Tensor) -> Tensor {
    let out = a.matmul(b);
    session::count(|| op_macs::mult_adds("aten::matmul", &[arg(a), arg(b), arg(&out)]));
    out
}
