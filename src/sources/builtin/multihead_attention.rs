//! `torch.nn.MultiheadAttention` as torchvision's ViT uses it: self-attention, batch first, the
//! query, key and value projections packed in one `in_proj_weight` / `in_proj_bias`, and `out_proj`
//! a `NonDynamicallyQuantizableLinear` that PyTorch applies through its weights, never by calling the
//! module — so `out_proj` has no output shape of its own, as torchvision's hooks see it.

use super::module::{Layer, Module};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::Scope;
use tch::{TchError, Tensor};

/// `nn.MultiheadAttention(dim, heads, batch_first=True)`, called as `attn(x, x, x,
/// need_weights=False)`.
pub(super) fn self_attention(s: &Scope, dim: i64, heads: i64) -> Result<Module, TchError> {
    let own = vec![
        s.own_param("in_proj_weight", &[3 * dim, dim])?,
        s.own_param("in_proj_bias", &[3 * dim])?,
    ];
    let mut out_proj = s.sub("out_proj").linear(dim, dim)?;
    out_proj.class = "torch.nn.modules.linear.NonDynamicallyQuantizableLinear";
    Ok(s.block_owning(
        "torch.nn.modules.activation.MultiheadAttention",
        move |m, x, rec| self_attention_forward(m, x, rec, heads),
        own,
        vec![out_proj],
    ))
}

fn self_attention_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    heads: i64,
) -> Result<Act, ForwardError> {
    let out_proj = match &m.child("out_proj")?.layer {
        Layer::Linear(l) => l,
        _ => unreachable!("out_proj is built as a Linear"),
    };
    let (w, b) = (m.own("in_proj_weight")?, m.own("in_proj_bias")?);
    let out = ops::apply(m, rec, &[x], || {
        attend(&x.t, w, b, &out_proj.weight, out_proj.bias.as_ref(), heads)
    })?;
    rec.add_op_mult_adds(m.id, mult_adds(&x.t.size(), w.size()[1], heads));
    Ok(out)
}

fn attend(
    x: &Tensor,
    in_w: &Tensor,
    in_b: &Tensor,
    out_w: &Tensor,
    out_b: Option<&Tensor>,
    heads: i64,
) -> Result<Tensor, TchError> {
    let (batch, len, dim) = x.size3()?;
    let split = |t: &Tensor| -> Result<Tensor, TchError> {
        t.f_reshape([batch, len, heads, dim / heads])?
            .f_transpose(1, 2)
    };
    let qkv = x.f_linear(in_w, Some(in_b))?.f_chunk(3, -1)?;
    let (q, k, v) = (split(&qkv[0])?, split(&qkv[1])?, split(&qkv[2])?);
    let attended = Tensor::f_scaled_dot_product_attention(
        &q,
        &k,
        &v,
        None::<Tensor>,
        0.0,
        false,
        None,
        false,
    )?;
    attended
        .f_transpose(1, 2)?
        .f_reshape([batch, len, dim])?
        .f_linear(out_w, out_b)
}

/// The input projection (3·E per position and input feature), both attention products (each
/// L × head size per position and head) and the output projection.
fn mult_adds(input: &[i64], dim: i64, heads: i64) -> u64 {
    let [batch, len, _] = input[..] else {
        return 0;
    };
    let positions = (batch * len) as u64;
    let (dim, head_dim) = (dim as u64, (dim / heads.max(1)) as u64);
    let projections = positions * dim * (3 * dim + dim);
    let attention = 2 * positions * heads as u64 * len as u64 * head_dim;
    projections + attention
}
