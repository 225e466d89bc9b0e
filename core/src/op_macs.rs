//! Mult-adds per operator, counted from the shapes an operator actually ran with — by the TorchScript
//! forward pass (the shim reports each counted operator's runtime arguments) and by any reader of a
//! graph that records shapes, so every source counts an operator the same way.
//!
//! One mult-add per multiply-accumulate of the product: a convolution costs its output elements ×
//! the input channels per group × the kernel size, a matrix product (m×k)·(k×n) costs m·k·n, and
//! attention costs its two products (scores and weighted values). Bias additions, normalisations,
//! activations and pooling are not mult-adds and count nothing. The arguments are the operator's
//! inputs followed by its outputs, as the shim reports them; a packed weight (a quantized layer's
//! `LinearPackedParamsBase` / `Conv2dPackedParamsBase`) comes as the tensors it unpacks to.
//!
//! [`try_mult_adds`] says when an operator's arguments are not what its formula reads; [`does_work`]
//! names the operators that multiply and accumulate, so an uncounted one can be reported rather than
//! silently cost nothing.

/// One runtime value an operator saw, as far as counting needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A tensor's shape.
    Tensor(Vec<u64>),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    Str(String),
    Ints(Vec<i64>),
    /// A list of tensors (`einsum`'s operands), by shape.
    Tensors(Vec<Vec<u64>>),
    /// Anything else (a device, a generator …); never needed for counting.
    Other,
}

impl Arg {
    pub fn shape(&self) -> Option<&[u64]> {
        match self {
            Arg::Tensor(s) => Some(s),
            _ => None,
        }
    }
}

/// The operators the shim reports; every other operator counts nothing.
pub const COUNTED_OPS: &[&str] = &[
    "aten::_convolution",
    "aten::convolution",
    "aten::_convolution_mode",
    "aten::conv1d",
    "aten::conv2d",
    "aten::conv3d",
    "aten::conv_transpose1d",
    "aten::conv_transpose2d",
    "aten::conv_transpose3d",
    "aten::mkldnn_convolution",
    "prim::mkldnn_convolution",
    "aten::linear",
    "aten::mkldnn_linear",
    "aten::addmm",
    "aten::addmm_",
    "aten::_addmm_activation",
    "aten::mm",
    "aten::_int_mm",
    "aten::_scaled_mm",
    "aten::matmul",
    "aten::bmm",
    "aten::baddbmm",
    "aten::baddbmm_",
    "aten::addbmm",
    "aten::addbmm_",
    "aten::_grouped_mm",
    "aten::_weight_int8pack_mm",
    "aten::_weight_int4pack_mm",
    "aten::_weight_int4pack_mm_for_cpu",
    "aten::fbgemm_linear_int8_weight",
    "aten::fbgemm_linear_int8_weight_fp32_activation",
    "aten::fbgemm_linear_fp16_weight",
    "aten::fbgemm_linear_fp16_weight_fp32_activation",
    "aten::bilinear",
    "aten::mv",
    "aten::addmv",
    "aten::addmv_",
    "aten::dot",
    "aten::vdot",
    "aten::outer",
    "aten::ger",
    "aten::addr",
    "aten::einsum",
    "aten::scaled_dot_product_attention",
    "aten::_scaled_dot_product_attention_math",
    "aten::_scaled_dot_product_flash_attention",
    "aten::_scaled_dot_product_flash_attention_for_cpu",
    "aten::_scaled_dot_product_efficient_attention",
    "aten::_scaled_dot_product_cudnn_attention",
    "aten::_native_multi_head_attention",
    "aten::_transformer_encoder_layer_fwd",
    "aten::lstm",
    "aten::gru",
    "aten::rnn_tanh",
    "aten::rnn_relu",
    "aten::quantized_lstm",
    "aten::quantized_gru",
    "quantized::linear",
    "quantized::linear_relu",
    "quantized::linear_dynamic",
    "quantized::linear_relu_dynamic",
    "quantized::linear_dynamic_fp16",
    "quantized::linear_relu_dynamic_fp16",
    "quantized::linear_leaky_relu",
    "quantized::linear_tanh",
    "quantized::linear_with_input_q_dq_qweight_dq_output_fp32",
    "quantized::linear_with_input_q_dq_qweight_dq_relu_output_fp32",
    "quantized::conv1d",
    "quantized::conv1d_relu",
    "quantized::conv2d",
    "quantized::conv2d_relu",
    "quantized::conv2d_add",
    "quantized::conv2d_add_relu",
    "quantized::conv3d",
    "quantized::conv3d_relu",
    "quantized::conv1d_dynamic",
    "quantized::conv2d_dynamic",
    "quantized::conv3d_dynamic",
    "quantized::conv_transpose1d",
    "quantized::conv_transpose2d",
    "quantized::conv_transpose3d",
    "quantized::conv_transpose1d_dynamic",
    "quantized::conv_transpose2d_dynamic",
    "quantized::conv_transpose3d_dynamic",
];

/// Operators that multiply and accumulate (by exact name, after the namespace) but have no formula
/// here; with the namespaces and prefixes of [`does_work`], what a run reports as uncounted work.
const UNCOUNTED_WORK: &[&str] = &[
    "chain_matmul",
    "linalg_multi_dot",
    "linalg_matmul",
    "inner",
    "tensordot",
    "kron",
    "cdist",
    "_cdist_forward",
    "conv_tbc",
    "cudnn_convolution",
    "miopen_convolution",
    "slow_conv2d",
    "thnn_conv2d",
    "_slow_conv2d_forward",
    "_sparse_mm",
    "sspaddmm",
    "hspmm",
    "_scaled_grouped_mm",
    "_cslt_sparse_mm",
    "_sparse_semi_structured_mm",
    "_sparse_semi_structured_addmm",
    "stft",
    "istft",
    "lstm_cell",
    "gru_cell",
    "rnn_tanh_cell",
    "rnn_relu_cell",
    "quantized_lstm_cell",
    "quantized_gru_cell",
    "quantized_rnn_tanh_cell",
    "quantized_rnn_relu_cell",
];

/// True for an operator that multiplies and accumulates: one of [`COUNTED_OPS`], a known operator
/// without a formula, an FFT, a quantized, prepacked (mobile) or MKL-DNN layer.
pub fn does_work(op: &str) -> bool {
    if COUNTED_OPS.contains(&op) {
        return true;
    }
    let Some((namespace, name)) = op.split_once("::") else {
        return false;
    };
    match namespace {
        "aten" | "prim" => {
            UNCOUNTED_WORK.contains(&name)
                || name.starts_with("fft_")
                || name.starts_with("_scaled_dot_product")
                || name.starts_with("_weight_int")
                || name.starts_with("mkldnn_conv")
                || name.starts_with("mkldnn_linear")
        }
        "quantized" | "_quantized" => {
            (name.starts_with("linear") || name.starts_with("conv") || name.contains("matmul"))
                && !name.contains("pack")
                && !name.contains("quantize")
        }
        "prepacked" | "mkldnn_prepacked" => name.ends_with("_run"),
        _ => false,
    }
}

/// Operator names (exact, or a prefix ending in `*`) whose runs a forward pass should tally when they
/// are not counted: every candidate [`does_work`] may accept.
pub const TALLIED_OPS: &[&str] = &[
    "aten::chain_matmul",
    "aten::linalg_multi_dot",
    "aten::linalg_matmul",
    "aten::inner",
    "aten::tensordot",
    "aten::kron",
    "aten::cdist",
    "aten::_cdist_forward",
    "aten::conv_tbc",
    "aten::cudnn_convolution",
    "aten::miopen_convolution",
    "aten::slow_conv2d",
    "aten::thnn_conv2d",
    "aten::_slow_conv2d_forward",
    "aten::_sparse_mm",
    "aten::sspaddmm",
    "aten::hspmm",
    "aten::_scaled_grouped_mm",
    "aten::_cslt_sparse_mm",
    "aten::_sparse_semi_structured_mm",
    "aten::_sparse_semi_structured_addmm",
    "aten::stft",
    "aten::istft",
    "aten::lstm_cell",
    "aten::gru_cell",
    "aten::rnn_tanh_cell",
    "aten::rnn_relu_cell",
    "aten::quantized_lstm_cell",
    "aten::quantized_gru_cell",
    "aten::quantized_rnn_tanh_cell",
    "aten::quantized_rnn_relu_cell",
    "aten::fft_*",
    "aten::_scaled_dot_product*",
    "aten::_weight_int*",
    "aten::mkldnn_conv*",
    "quantized::*",
    "_quantized::*",
    "prepacked::*",
    "mkldnn_prepacked::*",
];

/// Mult-adds of one run of `op`; 0 when the arguments are not what the operator's schema says.
pub fn mult_adds(op: &str, args: &[Arg]) -> u64 {
    try_mult_adds(op, args).unwrap_or(0)
}

/// Mult-adds of one run of `op`; `None` when `op` has no formula here or its arguments are not what
/// the formula reads (work that went uncounted).
pub fn try_mult_adds(op: &str, args: &[Arg]) -> Option<u64> {
    count(op, args)
}

/// Mult-adds of one run of `op`, or `None` when `op` is not counted or its arguments are not what
/// the formula needs (a shape missing, an einsum with `...`): for readers that must say what they
/// could not count rather than count it as nothing.
pub fn counted(op: &str, args: &[Arg]) -> Option<u64> {
    count(op, args)
}

/// True when `op` multiplies and accumulates (a product, a convolution, attention, a recurrent
/// layer) judging by its name, whether or not [`COUNTED_OPS`] has a formula for it: the readers of
/// recorded graphs name such operators in a note instead of counting them as free.
pub fn does_mult_adds(op: &str) -> bool {
    if COUNTED_OPS.contains(&op) {
        return true;
    }
    let base = op.rsplit("::").next().unwrap_or(op);
    base.split('_').any(|word| {
        matches!(
            word,
            "mm" | "bmm"
                | "addmm"
                | "baddbmm"
                | "addbmm"
                | "matmul"
                | "einsum"
                | "tensordot"
                | "bilinear"
                | "trilinear"
                | "cdist"
                | "kron"
                | "attention"
                | "lstm"
                | "gru"
                | "rnn"
                | "mv"
                | "addmv"
                | "dot"
                | "linear"
                | "conv"
                | "convolution"
                | "conv1d"
                | "conv2d"
                | "conv3d"
        )
    })
}

fn count(op: &str, args: &[Arg]) -> Option<u64> {
    let shape = |i: usize| args.get(i).and_then(Arg::shape);
    let output = || args.last().and_then(Arg::shape);
    // The output-based count of a product: each output element is one dot product of length k.
    let per_output = |k: u64| product(&[numel(output()?), k]);
    if let Some(layer) = op.strip_prefix("quantized::") {
        return quantized(layer, args);
    }
    match op {
        "aten::conv1d" | "aten::conv2d" | "aten::conv3d" | "aten::_convolution_mode" => {
            conv(output()?, shape(1)?)
        }
        "aten::mkldnn_convolution" | "prim::mkldnn_convolution" => conv(output()?, shape(1)?),
        "aten::conv_transpose1d" | "aten::conv_transpose2d" | "aten::conv_transpose3d" => {
            conv(shape(0)?, shape(1)?)
        }
        // (input, weight, bias, stride, padding, dilation, transposed, …)
        "aten::_convolution" | "aten::convolution" => match args.get(6)? {
            Arg::Bool(true) => conv(shape(0)?, shape(1)?),
            _ => conv(output()?, shape(1)?),
        },
        "aten::linear" | "aten::mkldnn_linear" => per_output(*shape(1)?.last()?),
        "aten::mm" | "aten::_int_mm" | "aten::_scaled_mm" => matrix(shape(0)?, shape(1)?),
        "aten::addmm" | "aten::addmm_" | "aten::_addmm_activation" => matrix(shape(1)?, shape(2)?),
        "aten::bmm" => batched_matrix(shape(0)?, shape(1)?),
        "aten::baddbmm" | "aten::baddbmm_" | "aten::addbmm" | "aten::addbmm_" => {
            batched_matrix(shape(1)?, shape(2)?)
        }
        "aten::_grouped_mm" => grouped_matrix(shape(0)?, shape(1)?, output()?),
        // Broadcast batches make the output the clearest count: one dot product of length k each.
        "aten::matmul" => per_output(*shape(0)?.last()?),
        // Weights packed along K (int4/int8 kernels, fbgemm): the input's last dimension is K.
        "aten::_weight_int8pack_mm"
        | "aten::_weight_int4pack_mm"
        | "aten::_weight_int4pack_mm_for_cpu"
        | "aten::fbgemm_linear_int8_weight"
        | "aten::fbgemm_linear_int8_weight_fp32_activation"
        | "aten::fbgemm_linear_fp16_weight"
        | "aten::fbgemm_linear_fp16_weight_fp32_activation" => per_output(*shape(0)?.last()?),
        // weight (out, in1, in2): each output sums in1 × in2 products.
        "aten::bilinear" => per_output(numel(shape(2)?.get(1..)?)),
        "aten::mv" => product(shape(0)?),
        "aten::addmv" | "aten::addmv_" => product(shape(1)?),
        "aten::dot" | "aten::vdot" => product(shape(0)?),
        "aten::outer" | "aten::ger" => product(&[numel(shape(0)?), numel(shape(1)?)]),
        "aten::addr" => product(&[numel(shape(1)?), numel(shape(2)?)]),
        "aten::einsum" => match (args.first()?, args.get(1)?) {
            (Arg::Str(equation), Arg::Tensors(operands)) => einsum(equation, operands),
            _ => None,
        },
        // The fused kernels PyTorch dispatches to take (query, key, value, …) as the generic one does.
        "aten::scaled_dot_product_attention"
        | "aten::_scaled_dot_product_attention_math"
        | "aten::_scaled_dot_product_flash_attention"
        | "aten::_scaled_dot_product_flash_attention_for_cpu"
        | "aten::_scaled_dot_product_efficient_attention"
        | "aten::_scaled_dot_product_cudnn_attention" => attention(shape(0)?, shape(1)?, shape(2)?),
        // (src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, use_gelu, norm_first,
        //  eps, norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, …)
        "aten::_transformer_encoder_layer_fwd" => {
            let src = shape(0)?;
            let positions = numel(src) / src.last().copied().filter(|&e| e > 0)?;
            let feed_forward = numel(shape(14)?).saturating_add(numel(shape(16)?));
            let attention = native_multi_head_attention(src, src, src)?;
            Some(attention.saturating_add(positions.saturating_mul(feed_forward)))
        }
        // Every weight matrix meets every time step of every sequence once, in each layer and direction.
        "aten::lstm" | "aten::gru" | "aten::rnn_tanh" | "aten::rnn_relu" => {
            match args.get(rnn_params_at(args))? {
                Arg::Tensors(params) => {
                    let input = shape(0)?;
                    let steps = numel(input) / input.last().copied().filter(|&f| f > 0)?;
                    let weights = params.iter().filter(|p| p.len() == 2).map(|p| numel(p));
                    Some(weights.fold(0u64, |acc, w| acc.saturating_add(w.saturating_mul(steps))))
                }
                _ => None,
            }
        }
        "aten::quantized_lstm" => quantized_recurrent(args, 4, 3),
        "aten::quantized_gru" => quantized_recurrent(args, 3, 2),
        "aten::_native_multi_head_attention" => {
            native_multi_head_attention(shape(0)?, shape(1)?, shape(2)?)
        }
        _ => None,
    }
}

/// Quantized Linear and convolution layers (static and dynamic): the packed weight arrives unpacked
/// as `[weight, bias]`; a Linear needs only its input's last dimension.
fn quantized(layer: &str, args: &[Arg]) -> Option<u64> {
    let input = args.first()?.shape()?;
    let output = args.last()?.shape()?;
    let weight = || match args.get(1)? {
        Arg::Tensors(unpacked) => unpacked.first().map(Vec::as_slice),
        _ => None,
    };
    if layer.starts_with("linear") {
        product(&[numel(output), *input.last()?])
    } else if layer.starts_with("conv_transpose") {
        conv(input, weight()?)
    } else if layer.starts_with("conv") {
        conv(output, weight()?)
    } else {
        None
    }
}

/// A dynamically quantized LSTM or GRU, whose packed weights carry no shapes: every gate's input and
/// recurrent matrices come from the input size, the hidden size (the output's last dimension per
/// direction), the layer count and the directions. `(input, hx, params, has_biases, num_layers,
/// dropout, train, bidirectional, …)`; a packed sequence's overload adds `batch_sizes` second.
fn quantized_recurrent(args: &[Arg], gates: u64, outputs: usize) -> Option<u64> {
    let shift = rnn_params_at(args) - 2;
    let input = args.first()?.shape()?;
    let layers = match args.get(4 + shift)? {
        Arg::Int(n) => u64::try_from(*n).ok()?,
        _ => return None,
    };
    let directions = match args.get(7 + shift)? {
        Arg::Bool(true) => 2,
        _ => 1,
    };
    let output = args.get(args.len().checked_sub(outputs)?)?.shape()?;
    let hidden = output.last()? / directions;
    let features = *input.last()?;
    let steps = numel(input) / Some(features).filter(|&f| f > 0)?;
    let mut per_step = 0u64;
    for layer in 0..layers {
        let inputs = if layer == 0 {
            features
        } else {
            hidden * directions
        };
        per_step = per_step.saturating_add(product(&[
            directions,
            gates,
            hidden,
            inputs.saturating_add(hidden),
        ])?);
    }
    Some(per_step.saturating_mul(steps))
}

/// Where a recurrent operator's weight list is. Padded input, `(input, hx, params, …)`; a packed
/// sequence, the `.data` overloads, `(data, batch_sizes, hx, params, …)`. Their second argument tells
/// them apart: `batch_sizes` is one-dimensional, while `hx` is a list of tensors (LSTM) or a
/// three-dimensional state (GRU, RNN). The packed `data` is (steps of all sequences, features), so the
/// step count below holds for both.
fn rnn_params_at(args: &[Arg]) -> usize {
    match args.get(1) {
        Some(Arg::Tensor(batch_sizes)) if batch_sizes.len() == 1 => 3,
        _ => 2,
    }
}

fn numel(shape: &[u64]) -> u64 {
    shape.iter().fold(1u64, |acc, &d| acc.saturating_mul(d))
}

fn product(factors: &[u64]) -> Option<u64> {
    Some(numel(factors))
}

/// Each element of `per_element_of` (the output, or a transposed convolution's input) meets
/// weight[1] × the kernel positions: the channels per group it sums over, or spreads to.
fn conv(per_element_of: &[u64], weight: &[u64]) -> Option<u64> {
    product(&[numel(per_element_of), numel(weight.get(1..)?)])
}

/// (m×k)·(k×n)
fn matrix(a: &[u64], b: &[u64]) -> Option<u64> {
    match (a, b) {
        ([m, k], [_, n]) => product(&[*m, *k, *n]),
        _ => None,
    }
}

/// (b×m×k)·(b×k×n)
fn batched_matrix(a: &[u64], b: &[u64]) -> Option<u64> {
    match (a, b) {
        ([batch, m, k], [_, _, n]) => product(&[*batch, *m, *k, *n]),
        _ => None,
    }
}

/// `_grouped_mm`: G products over groups of rows (2-D × 3-D, a mixture of experts' tokens sorted by
/// expert), of columns (3-D × 2-D), of batches (3-D × 3-D), or of the shared dimension K (2-D × 2-D,
/// output G×M×N). Each output element sums over its group's K, so the output and K tell the count.
fn grouped_matrix(a: &[u64], b: &[u64], out: &[u64]) -> Option<u64> {
    match (a, b) {
        ([_, k], [_, _]) => product(&[numel(out) / out.first().copied().filter(|&g| g > 0)?, *k]),
        ([.., k], _) if b.len() >= 2 => product(&[numel(out), *k]),
        _ => None,
    }
}

/// q (…, L, E), k (…, S, E), v (…, S, Ev): the scores cost L·S·E and the weighted sum L·S·Ev per
/// batch and head. Grouped-query attention shares keys between heads, so q's leading dims count.
fn attention(q: &[u64], k: &[u64], v: &[u64]) -> Option<u64> {
    let [lead @ .., l, e] = q else { return None };
    let s = *k.get(k.len().checked_sub(2)?)?;
    let ev = *v.last()?;
    let per_batch = product(&[*l, s, *e])?.saturating_add(product(&[*l, s, ev])?);
    Some(numel(lead).saturating_mul(per_batch))
}

/// The fused attention of `nn.MultiheadAttention` (query (…, L, E), key (…, S, E), value): three
/// input projections, the attention itself (heads split E, so the total is that of one head of
/// width E) and the output projection.
fn native_multi_head_attention(query: &[u64], key: &[u64], value: &[u64]) -> Option<u64> {
    let e = *query.last()?;
    let projections = [numel(query), numel(key), numel(value), numel(query)]
        .iter()
        .fold(0u64, |acc, &n| acc.saturating_add(n.saturating_mul(e)));
    Some(projections.saturating_add(attention(query, key, value)?))
}

/// Contracts left to right, as `torch.einsum` does without an optimised path: each step costs the
/// product of the sizes of every letter of the two operands; letters still needed later stay. `...`
/// stands for the operands' leading dimensions, broadcast against each other from the right. One
/// operand only sums or permutes: no mult-adds.
fn einsum(equation: &str, operands: &[Vec<u64>]) -> Option<u64> {
    let equation: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (inputs, output) = match equation.split_once("->") {
        Some((i, o)) => (i.to_string(), Some(o.to_string())),
        None => (equation.clone(), None),
    };
    let raw_terms: Vec<&str> = inputs.split(',').collect();
    if raw_terms.len() != operands.len() || operands.is_empty() {
        return None;
    }
    // `...` becomes one private letter per broadcast dimension, numbered from the right.
    let broadcast = |i: usize| char::from_u32(0xE000 + i as u32).unwrap_or('\u{E000}');
    let mut ellipsis_rank = 0;
    let mut terms: Vec<String> = Vec::new();
    for (term, shape) in raw_terms.iter().zip(operands) {
        let letters = term.replace("...", "").chars().count();
        let rank = if term.contains("...") {
            shape.len().checked_sub(letters)?
        } else {
            0
        };
        ellipsis_rank = ellipsis_rank.max(rank);
        let dims: String = (0..rank).rev().map(broadcast).collect();
        terms.push(term.replacen("...", &dims, 1));
    }
    let dims: String = (0..ellipsis_rank).rev().map(broadcast).collect();
    let output = match output {
        Some(o) => o.replacen("...", &dims, 1),
        None => dims.clone() + &implicit_output(&terms.concat()),
    };
    let mut size = std::collections::HashMap::new();
    for (term, shape) in terms.iter().zip(operands) {
        if term.chars().count() != shape.len() {
            return None;
        }
        for (letter, &d) in term.chars().zip(shape) {
            let known = size.entry(letter).or_insert(d);
            *known = (*known).max(d);
        }
    }
    if terms.len() < 2 {
        return Some(0);
    }
    let mut current: Vec<char> = terms[0].chars().collect();
    let mut total = 0u64;
    for (i, term) in terms.iter().enumerate().skip(1) {
        let mut letters: Vec<char> = Vec::new();
        for c in current.iter().copied().chain(term.chars()) {
            if !letters.contains(&c) {
                letters.push(c);
            }
        }
        total = total.saturating_add(
            letters
                .iter()
                .fold(1u64, |acc, c| acc.saturating_mul(size[c])),
        );
        let later: String = terms[i + 1..].concat() + &output;
        current = letters.into_iter().filter(|c| later.contains(*c)).collect();
    }
    Some(total)
}

/// Without `->`, the output holds the letters that appear once, in alphabetical order.
fn implicit_output(inputs: &str) -> String {
    let mut once: Vec<char> = inputs
        .chars()
        .filter(|c| c.is_ascii_alphabetic() && inputs.matches(*c).count() == 1)
        .collect();
    once.sort_unstable();
    once.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[u64]) -> Arg {
        Arg::Tensor(shape.to_vec())
    }

    #[test]
    fn convolution_counts_output_times_kernel() {
        // VGG-16 features.0: 64×224×224 outputs, each summing 3 channels × 3×3.
        let args = [
            t(&[1, 3, 224, 224]),
            t(&[64, 3, 3, 3]),
            t(&[64]),
            Arg::Ints(vec![1, 1]),
            Arg::Ints(vec![1, 1]),
            Arg::Ints(vec![1, 1]),
            Arg::Int(1),
            t(&[1, 64, 224, 224]),
        ];
        assert_eq!(mult_adds("aten::conv2d", &args), 64 * 224 * 224 * 27);
    }

    #[test]
    fn grouped_and_transposed_convolutions() {
        // Depthwise: weight (32, 1, 3, 3), each output element sums 9 inputs.
        let depthwise = [
            t(&[1, 32, 8, 8]),
            t(&[32, 1, 3, 3]),
            Arg::None,
            t(&[1, 32, 8, 8]),
        ];
        assert_eq!(mult_adds("aten::conv2d", &depthwise), 32 * 64 * 9);
        // Transposed (traced form): each of 16×4×4 inputs spreads to 8 channels × 2×2.
        let mut transposed = vec![t(&[1, 16, 4, 4]), t(&[16, 8, 2, 2]), Arg::None];
        transposed.extend([
            Arg::Ints(vec![2, 2]),
            Arg::Ints(vec![0, 0]),
            Arg::Ints(vec![1, 1]),
        ]);
        transposed.extend([
            Arg::Bool(true),
            Arg::Ints(vec![0, 0]),
            Arg::Int(1),
            t(&[1, 8, 8, 8]),
        ]);
        assert_eq!(
            mult_adds("aten::_convolution", &transposed),
            16 * 16 * 8 * 4
        );
        transposed[6] = Arg::Bool(false);
        assert_eq!(mult_adds("aten::_convolution", &transposed), 8 * 64 * 8 * 4);
    }

    #[test]
    fn matrix_products() {
        assert_eq!(
            mult_adds(
                "aten::linear",
                &[t(&[2, 7, 512]), t(&[10, 512]), Arg::None, t(&[2, 7, 10])]
            ),
            2 * 7 * 10 * 512
        );
        assert_eq!(
            mult_adds(
                "aten::addmm",
                &[
                    t(&[10]),
                    t(&[4, 512]),
                    t(&[512, 10]),
                    Arg::Int(1),
                    Arg::Int(1),
                    t(&[4, 10])
                ]
            ),
            4 * 512 * 10
        );
        assert_eq!(
            mult_adds("aten::bmm", &[t(&[8, 5, 4]), t(&[8, 4, 6]), t(&[8, 5, 6])]),
            8 * 5 * 4 * 6
        );
        assert_eq!(
            mult_adds(
                "aten::matmul",
                &[t(&[2, 3, 5, 4]), t(&[4, 6]), t(&[2, 3, 5, 6])]
            ),
            2 * 3 * 5 * 6 * 4
        );
        assert_eq!(mult_adds("aten::matmul", &[t(&[4]), t(&[4]), t(&[])]), 4);
    }

    #[test]
    fn attention_counts_both_products() {
        let (b, h, l, s, e) = (2, 4, 8, 10, 16);
        let args = [
            t(&[b, h, l, e]),
            t(&[b, h, s, e]),
            t(&[b, h, s, e]),
            Arg::None,
            t(&[b, h, l, e]),
        ];
        assert_eq!(
            mult_adds("aten::scaled_dot_product_attention", &args),
            2 * b * h * l * s * e
        );
    }

    #[test]
    fn recurrent_layers_count_every_weight_at_every_step() {
        // LSTM(10, 20), batch_first input (3, 5, 10): W_ih (80, 10) and W_hh (80, 20) at 15 positions.
        let params = Arg::Tensors(vec![vec![80, 10], vec![80, 20], vec![80], vec![80]]);
        let args = [
            t(&[3, 5, 10]),
            Arg::Tensors(vec![vec![1, 3, 20]; 2]),
            params,
            Arg::Bool(true),
            Arg::Int(1),
        ];
        assert_eq!(mult_adds("aten::lstm", &args), 15 * (800 + 1600));
    }

    #[test]
    fn einsum_contracts_left_to_right() {
        let args = |eq: &str, ops: Vec<Vec<u64>>| {
            [Arg::Str(eq.into()), Arg::Tensors(ops), Arg::None, t(&[1])]
        };
        assert_eq!(
            mult_adds(
                "aten::einsum",
                &args("ij,jk->ik", vec![vec![2, 3], vec![3, 4]])
            ),
            24
        );
        assert_eq!(
            mult_adds("aten::einsum", &args("ij,jk", vec![vec![2, 3], vec![3, 4]])),
            24
        );
        assert_eq!(
            mult_adds(
                "aten::einsum",
                &args(
                    "bhqd,bhkd->bhqk",
                    vec![vec![2, 4, 8, 16], vec![2, 4, 10, 16]]
                )
            ),
            2 * 4 * 8 * 16 * 10
        );
        // (i,j)·(j,k) then (i,k)·(k,l): 2·3·4 + 2·4·5.
        assert_eq!(
            mult_adds(
                "aten::einsum",
                &args("ij,jk,kl->il", vec![vec![2, 3], vec![3, 4], vec![4, 5]])
            ),
            24 + 40
        );
        assert_eq!(
            mult_adds("aten::einsum", &args("ii->i", vec![vec![3, 3]])),
            0
        );
    }

    #[test]
    fn work_without_a_formula_is_told_apart_from_free_operators() {
        for op in [
            "aten::_grouped_mm",
            "aten::_int_mm",
            "aten::linalg_multi_dot",
            "aten::mkldnn_convolution",
            "aten::_thnn_fused_lstm_cell",
            "quantized::linear_dynamic",
            "aten::conv2d",
        ] {
            assert!(does_mult_adds(op), "{op}");
        }
        for op in [
            "aten::relu",
            "aten::_convert_indices_from_coo_to_csr",
            "aten::upsample_bilinear2d",
            "aten::layer_norm",
            "aten::add",
        ] {
            assert!(!does_mult_adds(op), "{op}");
        }
        let (q, k) = (t(&[1, 2, 4, 8]), t(&[1, 2, 6, 8]));
        let args = [
            q.clone(),
            k.clone(),
            k,
            Arg::Float(0.0),
            Arg::Bool(false),
            q,
        ];
        assert_eq!(
            counted("aten::_scaled_dot_product_flash_attention_for_cpu", &args),
            Some(2 * 2 * 4 * 6 * 8)
        );
        assert_eq!(counted("aten::mm", &[t(&[2]), t(&[2])]), None);
        assert_eq!(counted("aten::relu", &[t(&[2])]), None);
    }

    #[test]
    fn unexpected_arguments_count_nothing() {
        assert_eq!(
            mult_adds("aten::mm", &[t(&[2, 3, 4]), t(&[4, 5]), t(&[2, 5])]),
            0
        );
        assert_eq!(mult_adds("aten::relu", &[t(&[2, 3]), t(&[2, 3])]), 0);
    }

    #[test]
    fn grouped_matrix_products_count_every_group() {
        // Mixtral's experts: 32 token-slots sorted by expert, (4 experts, 32, 128) weights.
        let args = [
            t(&[32, 32]),
            t(&[4, 32, 128]),
            t(&[4]),
            Arg::None,
            Arg::None,
            t(&[32, 128]),
        ];
        assert_eq!(mult_adds("aten::_grouped_mm", &args), 32 * 32 * 128);
        // Batched groups, and groups along K (output G×M×N).
        let batched = [t(&[4, 8, 16]), t(&[4, 16, 2]), Arg::None, t(&[4, 8, 2])];
        assert_eq!(mult_adds("aten::_grouped_mm", &batched), 4 * 8 * 16 * 2);
        let along_k = [t(&[8, 64]), t(&[64, 2]), t(&[4]), t(&[4, 8, 2])];
        assert_eq!(mult_adds("aten::_grouped_mm", &along_k), 8 * 64 * 2);
    }

    #[test]
    fn quantized_layers_count_like_their_float_twins() {
        // A packed Linear weight is opaque; the input's last dimension is K.
        let linear = [t(&[2, 5, 8]), Arg::Other, Arg::Bool(false), t(&[2, 5, 16])];
        assert_eq!(
            mult_adds("quantized::linear_dynamic", &linear),
            2 * 5 * 16 * 8
        );
        // A packed convolution arrives unpacked: [weight, bias].
        let conv = [
            t(&[1, 3, 8, 8]),
            Arg::Tensors(vec![vec![8, 3, 3, 3], vec![8]]),
            Arg::Float(0.1),
            Arg::Int(0),
            t(&[1, 8, 6, 6]),
        ];
        assert_eq!(mult_adds("quantized::conv2d", &conv), 8 * 36 * 27);
        assert_eq!(
            try_mult_adds(
                "quantized::conv2d",
                &[t(&[1, 3, 8, 8]), Arg::Other, t(&[1])]
            ),
            None
        );
        // LSTM(16, 12), one layer, batch-first (2, 5, 16): 4 gates × 12 × (16 + 12) at 10 steps.
        let lstm = [
            t(&[2, 5, 16]),
            Arg::Tensors(vec![vec![1, 2, 12]; 2]),
            Arg::Other,
            Arg::Bool(true),
            Arg::Int(1),
            Arg::Float(0.0),
            Arg::Bool(false),
            Arg::Bool(false),
            Arg::Bool(true),
            Arg::Other,
            Arg::Bool(true),
            t(&[2, 5, 12]),
            t(&[1, 2, 12]),
            t(&[1, 2, 12]),
        ];
        assert_eq!(
            mult_adds("aten::quantized_lstm", &lstm),
            10 * 4 * 12 * (16 + 12)
        );
    }

    #[test]
    fn einsum_broadcasts_ellipses() {
        let args = |eq: &str, ops: Vec<Vec<u64>>| {
            [Arg::Str(eq.into()), Arg::Tensors(ops), Arg::None, t(&[1])]
        };
        assert_eq!(
            mult_adds(
                "aten::einsum",
                &args("...ij,...jk->...ik", vec![vec![2, 3, 4, 5], vec![3, 5, 6]])
            ),
            2 * 3 * 4 * 5 * 6
        );
        assert_eq!(
            mult_adds(
                "aten::einsum",
                &args("...d,...d", vec![vec![7, 8], vec![7, 8]])
            ),
            7 * 8
        );
    }

    #[test]
    fn work_without_a_formula_is_recognised() {
        for op in [
            "aten::tensordot",
            "aten::fft_rfft",
            "quantized::linear_dynamic",
            "prepacked::linear_clamp_run",
            "aten::_scaled_dot_product_fused_attention_overrideable",
            "aten::mm",
        ] {
            assert!(does_work(op), "{op}");
        }
        for op in [
            "aten::relu",
            "aten::cummax",
            "aten::lgamma",
            "quantized::linear_prepack",
            "aten::quantize_per_tensor",
            "prim::GetAttr",
        ] {
            assert!(!does_work(op), "{op}");
        }
        assert_eq!(try_mult_adds("aten::tensordot", &[t(&[2, 3])]), None);
        assert_eq!(
            try_mult_adds("aten::mm", &[t(&[2, 3, 4]), t(&[4, 5])]),
            None
        );
    }
}
