//! The attention inside transformers' attention modules, as tensor functions for the functional
//! operations (`ops::apply`) of the module that runs them: splitting the hidden states into heads,
//! rotary positions, scaled dot-product attention and merging the heads back. The attention's two
//! products (scores, weighted values) are counted with the formula every source uses (`op_macs`), for
//! the module to record as its own operator mult-adds.

use tch::{TchError, Tensor};
use tchinfo_core::op_macs::{self, Arg};

/// (batch, seq, heads × head_dim) → (batch, heads, seq, head_dim).
pub(crate) fn split_heads(t: &Tensor, heads: i64) -> Result<Tensor, TchError> {
    let size = t.size();
    let (batch, seq, width) = (size[0], size[1], size[2]);
    t.f_view([batch, seq, heads, width / heads])?
        .f_transpose(1, 2)
}

/// (batch, heads, seq, head_dim) → (batch, seq, heads × head_dim).
pub(crate) fn merge_heads(t: &Tensor) -> Result<Tensor, TchError> {
    let size = t.size();
    t.f_transpose(1, 2)?
        .f_contiguous()?
        .f_view([size[0], size[2], size[1] * size[3]])
}

/// Rotary positions: `x·cos + rotate_half(x)·sin`, with cos and sin of shape (1, seq, head_dim)
/// broadcast over the heads.
pub(crate) fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor, TchError> {
    let half = x.size()[3] / 2;
    let (x1, x2) = (x.f_narrow(3, 0, half)?, x.f_narrow(3, half, half)?);
    let rotated = Tensor::f_cat(&[x2.f_neg()?, x1], 3)?;
    x.f_mul(&cos.f_unsqueeze(1)?)?
        .f_add(&rotated.f_mul(&sin.f_unsqueeze(1)?)?)
}

/// `scaled_dot_product_attention(q, k, v)` and its mult-adds: q (batch, heads, seq, head_dim); k and v
/// may have fewer (grouped) heads, shared by the query heads, as sdpa's `enable_gqa` shares them.
pub(crate) fn sdpa(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    causal: bool,
) -> Result<(Tensor, u64), TchError> {
    let grouped = k.size()[1] != q.size()[1];
    let out = Tensor::f_scaled_dot_product_attention(
        q,
        k,
        v,
        None::<&Tensor>,
        0.0,
        causal,
        None,
        grouped,
    )?;
    let shape = |t: &Tensor| Arg::Tensor(t.size().iter().map(|&d| d.max(0) as u64).collect());
    let args = [shape(q), shape(k), shape(v), shape(&out)];
    let mult_adds = op_macs::mult_adds("aten::scaled_dot_product_attention", &args);
    Ok((out, mult_adds))
}
