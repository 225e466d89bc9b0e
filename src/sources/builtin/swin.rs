//! Swin Transformer V1 (Liu et al., 2021) and V2 (Liu et al., 2022), as torchvision builds them: a 4×4
//! patch embedding, four stages of blocks that attend within shifted windows (every second block
//! shifts by half a window) with a relative position bias, patch merging between stages, and a
//! LayerNorm / global pool / Linear head. Feature maps stay channels-last (N, H, W, C) throughout.
//!
//! V2 attends with scaled cosine similarity (a learned `logit_scale`), derives the position bias from
//! a small MLP (`cpb_mlp`, called as a module) over log-spaced relative coordinates, normalises after
//! attention and MLP instead of before, and merges patches before normalising.
//!
//! As in torchvision, the attention's `qkv` and `proj` Linears are applied through their weights by a
//! functional forward, never called as modules: they have no output shape, and their mult-adds are
//! the attention module's.

use super::module::{GeluApproximation, Layer, Linear, Module};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use super::tv_ops::{permute, relative_position_index};
use tch::{Kind, TchError, Tensor};

pub(super) struct Variant {
    pub(super) embed_dim: i64,
    pub(super) depths: [usize; 4],
    pub(super) heads: [i64; 4],
    pub(super) window: i64,
    pub(super) v2: bool,
}

pub(super) const T: Variant = Variant {
    embed_dim: 96,
    depths: [2, 2, 6, 2],
    heads: [3, 6, 12, 24],
    window: 7,
    v2: false,
};
pub(super) const S: Variant = Variant {
    depths: [2, 2, 18, 2],
    ..T
};
pub(super) const B: Variant = Variant {
    embed_dim: 128,
    depths: [2, 2, 18, 2],
    heads: [4, 8, 16, 32],
    ..T
};
pub(super) const V2_T: Variant = Variant {
    window: 8,
    v2: true,
    ..T
};

/// torchvision's `norm_layer`: `nn.LayerNorm` with PyTorch's default eps.
const EPS: f64 = 1e-5;
const MLP_RATIO: i64 = 4;
/// Hidden width of V2's continuous position bias MLP.
const CPB_HIDDEN: i64 = 512;

pub(super) fn swin(root: &Scope, v: &Variant, num_classes: i64) -> Result<Module, TchError> {
    let mut f = root.sub("features").seq();
    let mut embed = f.next().seq();
    embed.push(
        embed
            .next()
            .conv2d(Conv::new(3, v.embed_dim, 4).stride(4))?,
    );
    embed.push(permute(&embed.next(), [0, 2, 3, 1]));
    embed.push(embed.next().layer_norm(v.embed_dim, EPS, true)?);
    f.push(embed.finish());
    for stage in 0..4 {
        let dim = v.embed_dim << stage;
        let mut blocks = f.next().seq();
        for i in 0..v.depths[stage] {
            let shift = if i % 2 == 0 { 0 } else { v.window / 2 };
            blocks.push(block(&blocks.next(), v, dim, v.heads[stage], shift)?);
        }
        f.push(blocks.finish());
        if stage < 3 {
            f.push(patch_merging(&f.next(), dim, v.v2)?);
        }
    }
    let features = v.embed_dim << 3;
    let children = vec![
        f.finish(),
        root.sub("norm").layer_norm(features, EPS, true)?,
        permute(&root.sub("permute"), [0, 3, 1, 2]),
        root.sub("avgpool").adaptive_avg_pool2d([1, 1]),
        root.sub("flatten").flatten(),
        root.sub("head").linear(features, num_classes)?,
    ];
    Ok(root.block(
        "torchvision.models.swin_transformer.SwinTransformer",
        |m, x, rec| {
            let mut x = x.share();
            for name in ["features", "norm", "permute", "avgpool", "flatten", "head"] {
                x = m.call(name, &x, rec)?;
            }
            Ok(x)
        },
        children,
    ))
}

fn block(s: &Scope, v: &Variant, dim: i64, heads: i64, shift: i64) -> Result<Module, TchError> {
    let mut mlp = s.sub("mlp").seq();
    mlp.push(mlp.next().linear(dim, dim * MLP_RATIO)?);
    mlp.push(mlp.next().gelu(GeluApproximation::None));
    mlp.push(mlp.next().dropout(0.0));
    mlp.push(mlp.next().linear(dim * MLP_RATIO, dim)?);
    mlp.push(mlp.next().dropout(0.0));
    let mut mlp = mlp.finish();
    mlp.class = "torchvision.ops.misc.MLP";
    let children = vec![
        s.sub("norm1").layer_norm(dim, EPS, true)?,
        attention(&s.sub("attn"), v, dim, heads, shift)?,
        s.sub("stochastic_depth").stochastic_depth(),
        s.sub("norm2").layer_norm(dim, EPS, true)?,
        mlp,
    ];
    Ok(if v.v2 {
        s.block(
            "torchvision.models.swin_transformer.SwinTransformerBlockV2",
            block_v2_forward,
            children,
        )
    } else {
        s.block(
            "torchvision.models.swin_transformer.SwinTransformerBlock",
            block_forward,
            children,
        )
    })
}

/// `x + sd(attn(norm1(x)))`, then `x + sd(mlp(norm2(x)))`: one StochasticDepth module, called twice.
fn block_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = x.share();
    for branch in [["norm1", "attn"], ["norm2", "mlp"]] {
        let mut y = x.share();
        for name in branch {
            y = m.call(name, &y, rec)?;
        }
        let y = m.call("stochastic_depth", &y, rec)?;
        x = ops::add(m, rec, &x, &y)?;
    }
    Ok(x)
}

/// V2 normalises each branch's output: `x + sd(norm1(attn(x)))`, then `x + sd(norm2(mlp(x)))`.
fn block_v2_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = x.share();
    for branch in [["attn", "norm1"], ["mlp", "norm2"]] {
        let mut y = x.share();
        for name in branch {
            y = m.call(name, &y, rec)?;
        }
        let y = m.call("stochastic_depth", &y, rec)?;
        x = ops::add(m, rec, &x, &y)?;
    }
    Ok(x)
}

/// The window settings an attention module's forward needs.
#[derive(Clone, Copy)]
struct Window {
    size: i64,
    shift: i64,
    heads: i64,
}

fn attention(s: &Scope, v: &Variant, dim: i64, heads: i64, shift: i64) -> Result<Module, TchError> {
    let w = v.window;
    let index = Tensor::from_slice(&relative_position_index(w, w));
    let mut children = vec![
        s.sub("qkv").linear(dim, 3 * dim)?,
        s.sub("proj").linear(dim, dim)?,
    ];
    let window = Window {
        size: w,
        shift,
        heads,
    };
    if !v.v2 {
        let own = vec![
            s.own_param("relative_position_bias_table", &[(2 * w - 1).pow(2), heads])?,
            s.own_buffer("relative_position_index", index),
        ];
        return Ok(s.block_owning(
            "torchvision.models.swin_transformer.ShiftedWindowAttention",
            move |m, x, rec| {
                let table = m.own("relative_position_bias_table")?;
                let index = m.own("relative_position_index")?;
                let bias = position_bias(table, index, w).map_err(|e| m.error(e))?;
                window_attention(m, x, rec, window, &bias, None)
            },
            own,
            children,
        ));
    }
    // V2: registered in this order by torchvision (the coordinates table is a buffer its
    // constructor fills; the values only shape the bias, so zeros do).
    let own = vec![
        s.own_buffer(
            "relative_coords_table",
            Tensor::f_zeros(
                [1, 2 * w - 1, 2 * w - 1, 2],
                (Kind::Float, tch::Device::Cpu),
            )?,
        ),
        s.own_buffer("relative_position_index", index),
        s.own_param("logit_scale", &[heads, 1, 1])?,
    ];
    let mut cpb = s.sub("cpb_mlp").seq();
    cpb.push(cpb.next().linear(2, CPB_HIDDEN)?);
    cpb.push(cpb.next().relu());
    cpb.push(cpb.next().linear_no_bias(CPB_HIDDEN, heads)?);
    children.push(cpb.finish());
    Ok(s.block_owning(
        "torchvision.models.swin_transformer.ShiftedWindowAttentionV2",
        move |m, x, rec| {
            let coords = Act::free(m.own("relative_coords_table")?.shallow_clone());
            let table = m.call("cpb_mlp", &coords, rec)?;
            let index = m.own("relative_position_index")?;
            let bias = ops::apply(m, rec, &[&table], || {
                let table = table.t.f_view([-1, heads])?;
                position_bias(&table, index, w)?
                    .f_sigmoid()?
                    .f_mul_scalar(16)
            })?;
            let scale = m.own("logit_scale")?;
            window_attention(m, x, rec, window, &bias.t, Some(scale))
        },
        own,
        children,
    ))
}

/// The table's rows picked by the index, as a (1, heads, N, N) bias on the attention scores.
fn position_bias(table: &Tensor, index: &Tensor, window: i64) -> Result<Tensor, TchError> {
    let n = window * window;
    table
        .f_index_select(0, index)?
        .f_view([n, n, -1])?
        .f_permute([2, 0, 1])?
        .f_contiguous()?
        .f_unsqueeze(0)
}

fn linear_of(m: &Module, name: &str) -> Result<(Tensor, Option<Tensor>), ForwardError> {
    match &m.child(name)?.layer {
        Layer::Linear(Linear { weight, bias }) => Ok((
            weight.shallow_clone(),
            bias.as_ref().map(Tensor::shallow_clone),
        )),
        _ => unreachable!("{name} is built as a Linear"),
    }
}

/// torchvision's `shifted_window_attention`: pad to whole windows, roll by the shift, attend within
/// each window (masking pairs that the roll brought together from apart), and undo it all.
fn window_attention(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    window: Window,
    bias: &Tensor,
    logit_scale: Option<&Tensor>,
) -> Result<Act, ForwardError> {
    let qkv = linear_of(m, "qkv")?;
    let proj = linear_of(m, "proj")?;
    let mut mult_adds = 0u64;
    let out = ops::apply(m, rec, &[x], || {
        let (out, counted) = attend(&x.t, &qkv, &proj, window, bias, logit_scale)?;
        mult_adds = counted;
        Ok(out)
    })?;
    rec.add_op_mult_adds(m.id, mult_adds);
    Ok(out)
}

fn attend(
    input: &Tensor,
    (qkv_weight, qkv_bias): &(Tensor, Option<Tensor>),
    (proj_weight, proj_bias): &(Tensor, Option<Tensor>),
    window: Window,
    bias: &Tensor,
    logit_scale: Option<&Tensor>,
) -> Result<(Tensor, u64), TchError> {
    let (b, h, w, c) = input.size4()?;
    let ws = window.size;
    let (pad_r, pad_b) = ((ws - w % ws) % ws, (ws - h % ws) % ws);
    let x = input.f_constant_pad_nd([0, 0, 0, pad_r, 0, pad_b])?;
    let (ph, pw) = (h + pad_b, w + pad_r);
    // No shift when one window covers the (padded) map.
    let shift = [
        if ws >= ph { 0 } else { window.shift },
        if ws >= pw { 0 } else { window.shift },
    ];
    let shifted = shift[0] + shift[1] > 0;
    let x = if shifted {
        x.f_roll([-shift[0], -shift[1]], [1, 2])?
    } else {
        x
    };
    let (nh, nw) = (ph / ws, pw / ws);
    let windows = nh * nw;
    let n = ws * ws;
    let x = x
        .f_view([b, nh, ws, nw, ws, c])?
        .f_permute([0, 1, 3, 2, 4, 5])?
        .f_reshape([b * windows, n, c])?;
    let heads = window.heads;
    let qkv = x
        .f_linear(qkv_weight, qkv_bias.as_ref())?
        .f_reshape([b * windows, n, 3, heads, c / heads])?
        .f_permute([2, 0, 3, 1, 4])?;
    let (q, k, v) = (qkv.f_get(0)?, qkv.f_get(1)?, qkv.f_get(2)?);
    let attn = match logit_scale {
        // V2: cosine similarity, scaled by the learned logit scale (at most 100).
        Some(scale) => {
            let normalize = |t: &Tensor| -> Result<Tensor, TchError> {
                let norm = t.f_norm_scalaropt_dim(2, [-1i64].as_slice(), true)?;
                t.f_div(&norm.f_clamp_min(1e-12)?)
            };
            let scale = scale.f_clamp_max(100f64.ln())?.f_exp()?;
            normalize(&q)?
                .f_matmul(&normalize(&k)?.f_transpose(-2, -1)?)?
                .f_mul(&scale)?
        }
        None => q
            .f_mul_scalar(((c / heads) as f64).powf(-0.5))?
            .f_matmul(&k.f_transpose(-2, -1)?)?,
    };
    let mut attn = attn.f_add(bias)?;
    if shifted {
        let mask = shift_mask(&x, [ph, pw], ws, shift)?;
        attn = attn
            .f_view([b, windows, heads, n, n])?
            .f_add(&mask.f_unsqueeze(1)?.f_unsqueeze(0)?)?
            .f_view([-1, heads, n, n])?;
    }
    let x = attn
        .f_softmax(-1, None)?
        .f_matmul(&v)?
        .f_transpose(1, 2)?
        .f_reshape([b * windows, n, c])?
        .f_linear(proj_weight, proj_bias.as_ref())?
        .f_view([b, nh, nw, ws, ws, c])?
        .f_permute([0, 1, 3, 2, 4, 5])?
        .f_reshape([b, ph, pw, c])?;
    let x = if shifted {
        x.f_roll([shift[0], shift[1]], [1, 2])?
    } else {
        x
    };
    let out = x.f_slice(1, 0, h, 1)?.f_slice(2, 0, w, 1)?.f_contiguous()?;
    // qkv and proj Linears on every window position, and both attention products per head.
    let positions = (b * windows * n) as u64;
    let (c, heads, n) = (c as u64, heads as u64, n as u64);
    let projections = positions * c * (3 * c + c);
    let products = 2 * positions * heads * n * (c / heads);
    Ok((out, projections + products))
}

/// -100 between positions of a window that the cyclic shift brought together from different regions
/// of the map, 0 elsewhere: (windows, N, N).
fn shift_mask(
    like: &Tensor,
    [ph, pw]: [i64; 2],
    ws: i64,
    shift: [i64; 2],
) -> Result<Tensor, TchError> {
    let mask = like.f_new_zeros([ph, pw], (Kind::Float, like.device()))?;
    let slices = |size: i64, s: i64| [(0, size - ws), (size - ws, size - s), (size - s, size)];
    let mut count = 0.0;
    for (h0, h1) in slices(ph, shift[0]) {
        for (w0, w1) in slices(pw, shift[1]) {
            // Fills the view in place: the region's number.
            let _region = mask
                .f_slice(0, h0, h1, 1)?
                .f_slice(1, w0, w1, 1)?
                .f_fill_(count)?;
            count += 1.0;
        }
    }
    let n = ws * ws;
    let mask = mask
        .f_view([ph / ws, ws, pw / ws, ws])?
        .f_permute([0, 2, 1, 3])?
        .f_reshape([(ph / ws) * (pw / ws), n])?;
    let diff = mask.f_unsqueeze(1)?.f_sub(&mask.f_unsqueeze(2)?)?;
    let apart = diff.f_ne(0.0)?;
    diff.f_zeros_like()?.f_masked_fill(&apart, -100.0)
}

fn patch_merging(s: &Scope, dim: i64, v2: bool) -> Result<Module, TchError> {
    let reduction = s.sub("reduction").linear_no_bias(4 * dim, 2 * dim)?;
    let (class, norm_dim, order): (_, _, [&'static str; 2]) = if v2 {
        (
            "torchvision.models.swin_transformer.PatchMergingV2",
            2 * dim,
            ["reduction", "norm"],
        )
    } else {
        (
            "torchvision.models.swin_transformer.PatchMerging",
            4 * dim,
            ["norm", "reduction"],
        )
    };
    let children = vec![reduction, s.sub("norm").layer_norm(norm_dim, EPS, true)?];
    Ok(s.block(
        class,
        move |m, x, rec| {
            let mut x = ops::apply(m, rec, &[x], || merge_pad(&x.t))?;
            for name in order {
                x = m.call(name, &x, rec)?;
            }
            Ok(x)
        },
        children,
    ))
}

/// torchvision's `_patch_merging_pad`: pad H and W to even, then the four interleaved 2×2 neighbours
/// side by side in channels: (…, H/2, W/2, 4C).
fn merge_pad(x: &Tensor) -> Result<Tensor, TchError> {
    let size = x.size();
    let (h, w) = (size[size.len() - 3], size[size.len() - 2]);
    let x = x.f_constant_pad_nd([0, 0, 0, w % 2, 0, h % 2])?;
    let every_other = |t: &Tensor, dim: i64, start: i64| t.f_slice(dim, start, i64::MAX, 2);
    let mut parts = Vec::with_capacity(4);
    for (dh, dw) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        parts.push(every_other(&every_other(&x, -3, dh)?, -2, dw)?);
    }
    Tensor::f_cat(&parts, -1)
}
