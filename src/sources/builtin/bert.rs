//! BERT as transformers' `BertModel` builds it (the classes come from
//! `tchinfo_core::architectures::bert`, which describes the same model without building it).

use super::attention::{self, merge_heads, split_heads};
use super::module::{Module, children_in_order};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::Scope;
use tch::{Device, Kind, TchError, Tensor};
use tchinfo_core::architectures::BertConfig;
use tchinfo_core::architectures::bert as arch;

pub(super) fn bert(root: &Scope, c: &BertConfig) -> Result<Module, TchError> {
    let h = c.hidden_size as i64;
    let e = root.sub("embeddings");
    let positions = c.max_position_embeddings as i64;
    // The ids used when none are given: positions 0, 1, 2 … and token type 0.
    let ids = (Kind::Int64, Device::Cpu);
    let embeddings = e.multi(
        arch::EMBEDDINGS,
        vec![
            e.own_buffer(
                "position_ids",
                Tensor::f_arange(positions, ids)?.f_unsqueeze(0)?,
            ),
            e.own_buffer("token_type_ids", Tensor::f_zeros([1, positions], ids)?),
        ],
        Box::new(|m, xs, rec| embeddings_forward(m, xs[0], rec)),
        vec![
            e.sub("word_embeddings").embedding(c.vocab_size as i64, h)?,
            e.sub("position_embeddings").embedding(positions, h)?,
            e.sub("token_type_embeddings")
                .embedding(c.type_vocab_size as i64, h)?,
            e.sub("LayerNorm").layer_norm(h, c.layer_norm_eps, true)?,
            e.sub("dropout").dropout(0.1),
        ],
    );
    let enc = root.sub("encoder");
    let mut layers = Vec::new();
    for i in 0..c.num_hidden_layers {
        layers.push(layer(&enc.sub("layer").sub(i), c)?);
    }
    let encoder = enc.block(
        arch::ENCODER,
        encoder_forward,
        vec![enc.sub("layer").module_list(layers)],
    );
    let p = root.sub("pooler");
    let pooler = p.block(
        arch::POOLER,
        pooler_forward,
        vec![p.sub("dense").linear(h, h)?, p.sub("activation").tanh()],
    );
    Ok(root.block(
        arch::MODEL,
        model_forward,
        vec![embeddings, encoder, pooler],
    ))
}

fn layer(s: &Scope, c: &BertConfig) -> Result<Module, TchError> {
    let h = c.hidden_size as i64;
    let i = c.intermediate_size as i64;
    let eps = c.layer_norm_eps;
    let heads = c.num_attention_heads as i64;
    let a = s.sub("attention");
    let sa = a.sub("self");
    let self_attention = sa.multi(
        arch::SELF_ATTENTION,
        vec![],
        Box::new(move |m, xs, rec| self_attention_forward(m, xs[0], rec, heads)),
        vec![
            sa.sub("query").linear(h, h)?,
            sa.sub("key").linear(h, h)?,
            sa.sub("value").linear(h, h)?,
            sa.sub("dropout").dropout(0.1),
        ],
    );
    let output = |s: &Scope, class: &'static str, inputs: i64| -> Result<Module, TchError> {
        Ok(s.multi(
            class,
            vec![],
            Box::new(output_forward),
            vec![
                s.sub("dense").linear(inputs, h)?,
                s.sub("LayerNorm").layer_norm(h, eps, true)?,
                s.sub("dropout").dropout(0.1),
            ],
        ))
    };
    let attention = a.block(
        arch::ATTENTION,
        attention_forward,
        vec![
            self_attention,
            output(&a.sub("output"), arch::SELF_OUTPUT, h)?,
        ],
    );
    let im = s.sub("intermediate");
    let intermediate = im.block(
        arch::INTERMEDIATE,
        children_in_order,
        vec![
            im.sub("dense").linear(h, i)?,
            im.sub("intermediate_act_fn").activation(c.hidden_act),
        ],
    );
    Ok(s.block(
        arch::LAYER,
        layer_forward,
        vec![
            attention,
            intermediate,
            output(&s.sub("output"), arch::OUTPUT, i)?,
        ],
    ))
}

/// The pooler runs on the encoder's output; the model returns that output (`last_hidden_state`).
fn model_forward(m: &Module, ids: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let x = m.call("embeddings", ids, rec)?;
    let x = m.call("encoder", &x, rec)?;
    m.call("pooler", &x, rec)?;
    Ok(x)
}

/// Word, token-type and position embeddings, summed, normalised. Token types and positions come from
/// the module's buffers: type 0 for every token, positions from 0.
fn embeddings_forward(m: &Module, ids: &Act, rec: &mut Recorder) -> Result<Vec<Act>, ForwardError> {
    let size = ids.t.size();
    let (batch, seq) = (size[0], size[1]);
    let word = m.call("word_embeddings", ids, rec)?;
    let types = m
        .own("token_type_ids")?
        .f_narrow(1, 0, seq)
        .and_then(|t| t.f_expand([batch, seq], false))
        .map_err(|e| m.error(e))?;
    let types = m.call("token_type_embeddings", &Act::free(types), rec)?;
    let x = ops::add(m, rec, &word, &types)?;
    let positions = m
        .own("position_ids")?
        .f_narrow(1, 0, seq)
        .map_err(|e| m.error(e))?;
    let positions = m.call("position_embeddings", &Act::free(positions), rec)?;
    let x = ops::add(m, rec, &x, &positions)?;
    let x = m.call("LayerNorm", &x, rec)?;
    Ok(vec![m.call("dropout", &x, rec)?])
}

fn encoder_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = x.share();
    for layer in &m.child("layer")?.children {
        x = layer.forward(&x, rec)?;
    }
    Ok(x)
}

fn first(mut outs: Vec<Act>) -> Act {
    outs.swap_remove(0)
}

fn layer_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let a = m.call("attention", x, rec)?;
    let i = m.call("intermediate", &a, rec)?;
    Ok(first(m.child("output")?.forward_multi(&[&i, &a], rec)?))
}

fn attention_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let s = m.call("self", x, rec)?;
    Ok(first(m.child("output")?.forward_multi(&[&s, x], rec)?))
}

/// Queries, keys and values; attention over the heads, not causal (`dropout` is sdpa's argument).
fn self_attention_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    heads: i64,
) -> Result<Vec<Act>, ForwardError> {
    let q = m.call("query", x, rec)?;
    let k = m.call("key", x, rec)?;
    let v = m.call("value", x, rec)?;
    let mut products = 0;
    let y = ops::apply(m, rec, &[&q, &k, &v], || {
        let (y, n) = attention::sdpa(
            &split_heads(&q.t, heads)?,
            &split_heads(&k.t, heads)?,
            &split_heads(&v.t, heads)?,
            false,
        )?;
        products = n;
        merge_heads(&y)
    })?;
    rec.add_op_mult_adds(m.id, products);
    Ok(vec![y])
}

/// `BertSelfOutput` / `BertOutput`: `LayerNorm(dropout(dense(x)) + residual)`.
fn output_forward(m: &Module, xs: &[&Act], rec: &mut Recorder) -> Result<Vec<Act>, ForwardError> {
    let x = m.call("dense", xs[0], rec)?;
    let x = m.call("dropout", &x, rec)?;
    let x = ops::add(m, rec, &x, xs[1])?;
    Ok(vec![m.call("LayerNorm", &x, rec)?])
}

/// The first token of each sequence through `dense` and `tanh`.
fn pooler_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let first = ops::apply(m, rec, &[x], || x.t.f_select(1, 0))?;
    let y = m.call("dense", &first, rec)?;
    m.call("activation", &y, rec)
}
