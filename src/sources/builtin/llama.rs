//! The Llama-architecture decoders (Llama, Mistral, Qwen2, Mixtral) as transformers'
//! `<Family>ForCausalLM` builds them (classes from `tchinfo_core::architectures::llama`, which describes
//! the same models without building them).
//!
//! The rotary embedding runs once per forward and hands its (cos, sin) to every decoder layer, which
//! hands them to its attention: modules with several inputs or outputs ([`Layer::Multi`]). Mixtral's experts
//! run as transformers' default `grouped_mm` implementation does: tokens sorted by the expert they
//! were routed to, each expert's rows through its own slice of the stacked weights, and the
//! activation once over all routed rows.
//!
//! [`Layer::Multi`]: super::module::Layer::Multi

use super::attention::{self, merge_heads, split_heads};
use super::module::{Layer, Module};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::Scope;
use tch::{Device, Kind, TchError, Tensor};
use tchinfo_core::architectures::LlamaConfig;
use tchinfo_core::architectures::llama::{Classes, classes};

pub(super) fn causal_lm(root: &Scope, c: &LlamaConfig) -> Result<Module, TchError> {
    let k = classes(c.model_type);
    let h = c.hidden_size as i64;
    let s = root.sub("model");
    let embed = s.sub("embed_tokens").embedding(c.vocab_size as i64, h)?;
    let mut layers = Vec::new();
    for i in 0..c.num_hidden_layers {
        layers.push(decoder_layer(&s.sub("layers").sub(i), c, k)?);
    }
    let head = match (&embed.layer, c.tie_word_embeddings) {
        (Layer::Embedding(e), true) => root.sub("lm_head").linear_tied(&e.weight),
        _ => root.sub("lm_head").linear_no_bias(h, c.vocab_size as i64)?,
    };
    let model = s.block(
        k.model,
        model_forward,
        vec![
            embed,
            s.sub("layers").module_list(layers),
            s.sub("norm").rms_norm(k.rms_norm, h, c.rms_norm_eps)?,
            rotary_embedding(&s.sub("rotary_emb"), c, k)?,
        ],
    );
    Ok(root.block(k.causal_lm, lm_forward, vec![model, head]))
}

/// Inverse frequencies of rotary positions, `1 / theta^(2i / head_dim)`, in float32 whatever the
/// model's dtype (as transformers computes them). Llama 3's rope scaling changes their values, never
/// their number, and values do not matter here.
fn rotary_embedding(s: &Scope, c: &LlamaConfig, k: &Classes) -> Result<Module, TchError> {
    let dim = c.head_dim() as i64;
    let inv_freq = Tensor::f_arange_start_step(0, dim, 2, (Kind::Float, Device::Cpu))?
        .f_div_scalar(dim as f64)?
        .f_mul_scalar(c.rope_theta.ln())?
        .f_exp()?
        .f_reciprocal()?;
    Ok(s.multi(
        k.rotary_embedding,
        vec![
            s.own_buffer("inv_freq", inv_freq.f_detach_copy()?),
            s.own_buffer("original_inv_freq", inv_freq),
        ],
        Box::new(|m, xs, rec| rotary_forward(m, xs[0], rec)),
        vec![],
    ))
}

fn decoder_layer(s: &Scope, c: &LlamaConfig, k: &Classes) -> Result<Module, TchError> {
    let h = c.hidden_size as i64;
    let (heads, kv, hd) = (
        c.num_attention_heads as i64,
        c.num_key_value_heads as i64,
        c.head_dim() as i64,
    );
    let a = s.sub("self_attn");
    let attention = a.multi(
        k.attention,
        vec![],
        Box::new(move |m, xs, rec| attention_forward(m, xs, rec, heads, kv)),
        vec![
            a.sub("q_proj").linear_bias(h, heads * hd, c.qkv_bias())?,
            a.sub("k_proj").linear_bias(h, kv * hd, c.qkv_bias())?,
            a.sub("v_proj").linear_bias(h, kv * hd, c.qkv_bias())?,
            a.sub("o_proj").linear_bias(heads * hd, h, c.o_bias())?,
        ],
    );
    let mlp = match c.experts() {
        None => dense_mlp(&s.sub("mlp"), c, k)?,
        Some((experts, per_token)) => sparse_moe(&s.sub("mlp"), c, k, experts, per_token)?,
    };
    Ok(s.multi(
        k.decoder_layer,
        vec![],
        Box::new(decoder_layer_forward),
        vec![
            attention,
            mlp,
            s.sub("input_layernorm")
                .rms_norm(k.rms_norm, h, c.rms_norm_eps)?,
            s.sub("post_attention_layernorm")
                .rms_norm(k.rms_norm, h, c.rms_norm_eps)?,
        ],
    ))
}

fn dense_mlp(s: &Scope, c: &LlamaConfig, k: &Classes) -> Result<Module, TchError> {
    let (h, i) = (c.hidden_size as i64, c.intermediate_size as i64);
    let bias = c.mlp_bias();
    Ok(s.block(
        k.mlp,
        mlp_forward,
        vec![
            s.sub("gate_proj").linear_bias(h, i, bias)?,
            s.sub("up_proj").linear_bias(h, i, bias)?,
            s.sub("down_proj").linear_bias(i, h, bias)?,
            s.sub("act_fn").activation(c.hidden_act),
        ],
    ))
}

fn sparse_moe(
    s: &Scope,
    c: &LlamaConfig,
    k: &Classes,
    experts: u64,
    per_token: u64,
) -> Result<Module, TchError> {
    let (h, i, e) = (
        c.hidden_size as i64,
        c.intermediate_size as i64,
        experts as i64,
    );
    let top_k = per_token as i64;
    let g = s.sub("gate");
    let router = g.multi(
        k.router,
        vec![g.own_param("weight", &[e, h])?],
        Box::new(move |m, xs, rec| router_forward(m, xs[0], rec, top_k)),
        vec![],
    );
    let x = s.sub("experts");
    let expert_block = x.multi(
        k.experts,
        vec![
            x.own_param("gate_up_proj", &[e, 2 * i, h])?,
            x.own_param("down_proj", &[e, h, i])?,
        ],
        Box::new(experts_forward),
        vec![x.sub("act_fn").activation(c.hidden_act)],
    );
    Ok(s.block(k.sparse_moe_block, moe_forward, vec![router, expert_block]))
}

fn lm_forward(m: &Module, ids: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let hidden = m.call("model", ids, rec)?;
    m.call("lm_head", &hidden, rec)
}

fn model_forward(m: &Module, ids: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = m.call("embed_tokens", ids, rec)?;
    let rope = m.child("rotary_emb")?.forward_multi(&[&x], rec)?;
    for layer in &m.child("layers")?.children {
        x = one(layer.forward_multi(&[&x, &rope[0], &rope[1]], rec)?);
    }
    m.call("norm", &x, rec)
}

fn one(mut outs: Vec<Act>) -> Act {
    outs.swap_remove(0)
}

/// cos and sin of every position × inverse frequency, (1, seq, head_dim), in the hidden states' dtype.
fn rotary_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Vec<Act>, ForwardError> {
    m.consume(&[x], rec);
    let torch = |e| m.error(e);
    let seq = x.t.size()[1];
    let positions = Tensor::f_arange(seq, (Kind::Float, Device::Cpu)).map_err(torch)?;
    let inv_freq = m.own("inv_freq")?;
    let freqs = positions
        .f_unsqueeze(1)
        .and_then(|p| p.f_mul(&inv_freq.f_unsqueeze(0)?))
        .map_err(torch)?;
    let table = Tensor::f_cat(&[&freqs, &freqs], 1)
        .and_then(|t| t.f_unsqueeze(0))
        .map_err(torch)?;
    let cos = table.f_cos().and_then(|t| t.f_to_kind(x.t.kind()));
    let sin = table.f_sin().and_then(|t| t.f_to_kind(x.t.kind()));
    Ok(vec![
        m.produce(cos.map_err(torch)?, rec),
        m.produce(sin.map_err(torch)?, rec),
    ])
}

/// Pre-norm residual blocks: attention (with the rotary cos and sin), then the MLP or the experts.
fn decoder_layer_forward(
    m: &Module,
    xs: &[&Act],
    rec: &mut Recorder,
) -> Result<Vec<Act>, ForwardError> {
    let (x, cos, sin) = (xs[0], xs[1], xs[2]);
    let a = m.call("input_layernorm", x, rec)?;
    let a = one(m.child("self_attn")?.forward_multi(&[&a, cos, sin], rec)?);
    let x = ops::add(m, rec, x, &a)?;
    let f = m.call("post_attention_layernorm", &x, rec)?;
    let f = m.call("mlp", &f, rec)?;
    Ok(vec![ops::add(m, rec, &x, &f)?])
}

/// Queries, keys and values (fewer key/value heads, shared); rotary positions on queries and keys;
/// causal attention; the output projection.
fn attention_forward(
    m: &Module,
    xs: &[&Act],
    rec: &mut Recorder,
    heads: i64,
    kv_heads: i64,
) -> Result<Vec<Act>, ForwardError> {
    let (x, cos, sin) = (xs[0], xs[1], xs[2]);
    let q = m.call("q_proj", x, rec)?;
    let k = m.call("k_proj", x, rec)?;
    let v = m.call("v_proj", x, rec)?;
    let mut products = 0;
    let y = ops::apply(m, rec, &[&q, &k, &v, cos, sin], || {
        let q = attention::rotate(&split_heads(&q.t, heads)?, &cos.t, &sin.t)?;
        let k = attention::rotate(&split_heads(&k.t, kv_heads)?, &cos.t, &sin.t)?;
        let v = split_heads(&v.t, kv_heads)?;
        let (y, n) = attention::sdpa(&q, &k, &v, true)?;
        products = n;
        merge_heads(&y)
    })?;
    rec.add_op_mult_adds(m.id, products);
    Ok(vec![m.call("o_proj", &y, rec)?])
}

/// `down_proj(act_fn(gate_proj(x)) * up_proj(x))`.
fn mlp_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let gate = m.call("gate_proj", x, rec)?;
    let gate = m.call("act_fn", &gate, rec)?;
    let up = m.call("up_proj", x, rec)?;
    let y = ops::mul(m, rec, &gate, &up)?;
    m.call("down_proj", &y, rec)
}

/// Tokens flattened to rows; the router picks each row's experts and weights; the experts compute.
fn moe_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let size = x.t.size();
    let rows = ops::apply(m, rec, &[x], || x.t.f_reshape([-1, size[2]]))?;
    let routing = m.child("gate")?.forward_multi(&[&rows], rec)?;
    let out = one(m
        .child("experts")?
        .forward_multi(&[&rows, &routing[2], &routing[1]], rec)?);
    ops::apply(m, rec, &[&out], || out.t.f_view(size.as_slice()))
}

/// Router logits (rows × experts, in the hidden dtype), then in float32 the softmax's top k, renormalised:
/// returns (logits, weights, expert indices).
fn router_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    top_k: i64,
) -> Result<Vec<Act>, ForwardError> {
    m.consume(&[x], rec);
    let torch = |e| m.error(e);
    let weight = m.own("weight")?;
    let logits = x.t.f_linear::<Tensor>(weight, None).map_err(torch)?;
    let (rows, experts) = (logits.size()[0], logits.size()[1]);
    rec.add_op_mult_adds(m.id, (rows * experts * weight.size()[1]) as u64);
    let probs = logits
        .f_to_kind(Kind::Float)
        .and_then(|l| l.f_softmax(-1, Kind::Float))
        .map_err(torch)?;
    let (top, index) = probs.f_topk(top_k, -1, true, true).map_err(torch)?;
    let top = top
        .f_div(&top.f_sum_dim_intlist(-1, true, None).map_err(torch)?)
        .map_err(torch)?;
    Ok(vec![
        m.produce(logits, rec),
        m.produce(top, rec),
        m.produce(index, rec),
    ])
}

/// Every (row, chosen expert) pair, sorted by expert; each expert's rows through its gate and up
/// projections, the activation over all rows at once, each expert's down projection; weighted, put
/// back in row order and summed over each row's experts.
fn experts_forward(m: &Module, xs: &[&Act], rec: &mut Recorder) -> Result<Vec<Act>, ForwardError> {
    let (x, index, weights) = (xs[0], xs[1], xs[2]);
    m.consume(&[x, index, weights], rec);
    let torch = |e| m.error(e);
    let gate_up = m.own("gate_up_proj")?;
    let down = m.own("down_proj")?;
    let (rows, hidden) = (x.t.size()[0], x.t.size()[1]);
    let per_row = index.t.size()[1];
    let inner = down.size()[2];
    let run = || -> Result<(Tensor, Tensor, Vec<i64>), TchError> {
        let (expert_of, order) = index.t.f_reshape([-1])?.f_sort(0, false)?;
        let sorted =
            x.t.f_index_select(0, &order.f_floor_divide_scalar(per_row)?)?;
        let counts =
            Vec::<i64>::try_from(expert_of.f_bincount::<Tensor>(None, gate_up.size()[0])?)?;
        let mut start = 0;
        let mut parts = Vec::new();
        for (e, &n) in counts.iter().enumerate() {
            if n > 0 {
                let rows = sorted.f_narrow(0, start, n)?;
                parts.push(rows.f_linear::<Tensor>(&gate_up.f_get(e as i64)?, None)?);
                start += n;
            }
        }
        Ok((Tensor::f_cat(&parts, 0)?, order, counts))
    };
    let (projected, order, counts) = run().map_err(torch)?;
    let routed = projected.size()[0] as u64;
    rec.add_op_mult_adds(m.id, routed * (2 * inner * hidden) as u64);
    let halves = projected.f_chunk(2, -1).map_err(torch)?;
    let activated = m.call("act_fn", &Act::free(halves[0].shallow_clone()), rec)?;
    let finish = || -> Result<Tensor, TchError> {
        let gated = activated.t.f_mul(&halves[1])?;
        let mut start = 0;
        let mut parts = Vec::new();
        for (e, &n) in counts.iter().enumerate() {
            if n > 0 {
                let rows = gated.f_narrow(0, start, n)?;
                parts.push(rows.f_linear::<Tensor>(&down.f_get(e as i64)?, None)?);
                start += n;
            }
        }
        let out = Tensor::f_cat(&parts, 0)?;
        let scale = weights.t.f_reshape([-1])?.f_index_select(0, &order)?;
        let out = out.f_mul(&scale.f_unsqueeze(1)?.f_to_kind(out.kind())?)?;
        let unsorted = out.f_zeros_like()?.f_index_copy(0, &order, &out)?;
        unsorted
            .f_view([rows, per_row, hidden])?
            .f_sum_dim_intlist(1, false, None)
    };
    let out = finish().map_err(torch)?;
    rec.add_op_mult_adds(m.id, routed * (inner * hidden) as u64);
    Ok(vec![m.produce(out, rec)])
}
