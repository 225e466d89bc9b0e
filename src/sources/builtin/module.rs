//! The module tree of a built-in model: every module PyTorch's `named_modules()` lists, with its local
//! name, its class, the layer it computes and its children in registration order.
//!
//! Leaves (convolutions, norms, activations, pools …) compute with fallible tch calls, or with a
//! family's own closure ([`Layer::Custom`]: a permutation, a window partition); containers either run
//! their children in order (`Sequential`) or have a family-specific forward (`Bottleneck`, `Fire`,
//! `MultiheadAttention` …). A module may own tensors besides its layer's ([`Own`]: ViT's class token,
//! an attention's packed projection), as PyTorch modules register parameters next to submodules.
//! Every call goes through [`Module::forward`], which is where the recorder sees it.

use super::recorder::{Act, ForwardError, Recorder};
use tch::{TchError, Tensor};

/// A family's forward for a container module: takes the module (to reach its children and its own
/// tensors) and the input, with whatever settings it captured when built (a head count, a window).
pub(crate) type BlockForward =
    Box<dyn Fn(&Module, &Act, &mut Recorder) -> Result<Act, ForwardError>>;

/// The computation of a leaf that has no variant of its own here (a permutation, ConvNeXt's
/// channels-first LayerNorm, MaxViT's window partition): input to output, with whatever settings and
/// tensors it captured when it was built.
pub(crate) type CustomForward = Box<dyn Fn(&Tensor) -> Result<Tensor, TchError>>;

/// The forward of a module called with several inputs or returning several outputs (a decoder layer
/// takes the hidden states and the rotary cos and sin; a rotary embedding returns both), with whatever
/// settings it captured when it was built (attention heads …). It records what a leaf's call records
/// itself when it computes without children: see [`Module::consume`] and [`Module::produce`].
pub(crate) type MultiForward =
    Box<dyn Fn(&Module, &[&Act], &mut Recorder) -> Result<Vec<Act>, ForwardError>>;

pub(crate) struct Conv2d {
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    pub(crate) stride: [i64; 2],
    pub(crate) padding: [i64; 2],
    pub(crate) groups: i64,
}

pub(crate) struct BatchNorm2d {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
    pub(crate) running_mean: Tensor,
    pub(crate) running_var: Tensor,
    pub(crate) eps: f64,
}

pub(crate) struct Linear {
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
}

/// `nn.LayerNorm` with an elementwise affine: normalises over the trailing dimensions of `weight`'s
/// shape (one dimension for every model here).
pub(crate) struct LayerNorm {
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    pub(crate) eps: f64,
}

/// `nn.Embedding`: one row of `weight` per index (a `padding_idx` only matters to gradients).
pub(crate) struct Embedding {
    pub(crate) weight: Tensor,
}

/// transformers' `Conv1D` (GPT-2's projections): a Linear whose weight is stored (in, out).
pub(crate) struct Conv1D {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
}

/// The RMSNorm of the Llama family (`LlamaRMSNorm` …): normalised in float32, scaled by `weight` in
/// the input's dtype.
pub(crate) struct RMSNorm {
    pub(crate) weight: Tensor,
    pub(crate) eps: f64,
}

/// `nn.GELU`'s `approximate` argument: the exact erf form, or the tanh approximation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GeluApproximation {
    None,
    /// GPT-2's `gelu_new`; no torchvision model uses it.
    #[allow(dead_code)]
    Tanh,
}

#[derive(Clone, Copy)]
pub(crate) struct Pool2d {
    pub(crate) kernel: [i64; 2],
    pub(crate) stride: [i64; 2],
    pub(crate) padding: [i64; 2],
    pub(crate) ceil_mode: bool,
}

pub(crate) enum Layer {
    Conv2d(Conv2d),
    BatchNorm2d(BatchNorm2d),
    Linear(Linear),
    LayerNorm(LayerNorm),
    /// A LayerNorm over the channels of an N, C, H, W tensor (torchvision's `LayerNorm2d`, ConvNeXt's).
    NchwLayerNorm(LayerNorm),
    Embedding(Embedding),
    Conv1D(Conv1D),
    RMSNorm(RMSNorm),
    ReLU,
    ReLU6,
    SiLU,
    Sigmoid,
    Gelu(GeluApproximation),
    Hardswish,
    Hardsigmoid,
    Tanh,
    MaxPool2d(Pool2d),
    AvgPool2d(Pool2d),
    AdaptiveAvgPool2d([i64; 2]),
    /// `nn.Identity`, and StochasticDepth (in eval mode it returns its input; in training its mask is
    /// one number per sample, so it is left out of the measuring run as well).
    Identity,
    /// `nn.Dropout(p)`: its input in eval mode; in training mode dropped with probability `p`.
    Dropout(f64),
    Sequential,
    Block(BlockForward),
    /// A leaf with a family-specific forward; its tensors, if any, are the module's own.
    Custom(CustomForward),
    /// A module (leaf or container) with several inputs or outputs; its tensors, if any, are the
    /// module's own.
    Multi(MultiForward),
}

fn weight_and_bias(has_bias: bool) -> Vec<&'static str> {
    if has_bias {
        vec!["weight", "bias"]
    } else {
        vec!["weight"]
    }
}

impl Layer {
    /// Names of the parameters and buffers this layer owns, in PyTorch's registration order.
    pub(crate) fn tensor_names(&self) -> (Vec<&'static str>, Vec<&'static str>) {
        match self {
            Layer::Conv2d(c) => (weight_and_bias(c.bias.is_some()), vec![]),
            Layer::Linear(l) => (weight_and_bias(l.bias.is_some()), vec![]),
            Layer::LayerNorm(n) | Layer::NchwLayerNorm(n) => {
                (weight_and_bias(n.bias.is_some()), vec![])
            }
            Layer::Conv1D(_) => (weight_and_bias(true), vec![]),
            Layer::Embedding(_) | Layer::RMSNorm(_) => (vec!["weight"], vec![]),
            Layer::BatchNorm2d(_) => (
                vec!["weight", "bias"],
                vec!["running_mean", "running_var", "num_batches_tracked"],
            ),
            _ => (vec![], vec![]),
        }
    }
}

/// A parameter or buffer a module registers itself (not one of its children's) that its layer does not
/// hold: ViT's `class_token`, MultiheadAttention's `in_proj_weight`, Swin's relative position table.
pub(crate) struct Own {
    pub(crate) name: &'static str,
    pub(crate) tensor: Tensor,
    pub(crate) buffer: bool,
}

pub(crate) struct Module {
    /// Position in a pre-order walk; indexes the recorder's tables.
    pub(crate) id: usize,
    pub(crate) name: String,
    pub(crate) path: String,
    /// The Python class, fully qualified: `torch.nn.modules.conv.Conv2d`, `torchvision.models.vgg.VGG`.
    pub(crate) class: &'static str,
    pub(crate) layer: Layer,
    /// Own tensors beyond the layer's, in registration order.
    pub(crate) own: Vec<Own>,
    pub(crate) children: Vec<Module>,
}

impl Module {
    /// The class name without its module: `Conv2d`, `Bottleneck`.
    pub(crate) fn type_name(&self) -> &'static str {
        self.class.rsplit('.').next().unwrap_or(self.class)
    }

    /// Names of the parameters and buffers this module registers itself, in PyTorch's order.
    pub(crate) fn tensor_names(&self) -> (Vec<&'static str>, Vec<&'static str>) {
        let (mut params, mut buffers) = self.layer.tensor_names();
        for own in &self.own {
            if own.buffer {
                buffers.push(own.name);
            } else {
                params.push(own.name);
            }
        }
        (params, buffers)
    }

    /// One of the module's own tensors, by name.
    pub(crate) fn own(&self, name: &str) -> Result<&Tensor, ForwardError> {
        self.own
            .iter()
            .find(|o| o.name == name)
            .map(|o| &o.tensor)
            .ok_or_else(|| {
                ForwardError::new(
                    &self.path,
                    self.type_name(),
                    format!("internal error: no tensor '{name}'"),
                )
            })
    }

    pub(crate) fn child(&self, name: &str) -> Result<&Module, ForwardError> {
        self.children
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                ForwardError::new(
                    &self.path,
                    self.type_name(),
                    format!("internal error: no submodule '{name}'"),
                )
            })
    }

    /// Runs a child by name on `x`.
    pub(crate) fn call(
        &self,
        name: &str,
        x: &Act,
        rec: &mut Recorder,
    ) -> Result<Act, ForwardError> {
        self.child(name)?.forward(x, rec)
    }

    /// Gives every module its pre-order id; returns the number of modules.
    pub(crate) fn number(&mut self) -> usize {
        fn go(m: &mut Module, next: &mut usize) {
            m.id = *next;
            *next += 1;
            for c in &mut m.children {
                go(c, next);
            }
        }
        let mut next = 0;
        go(self, &mut next);
        next
    }

    /// Pre-order walk: the order of `named_modules()`.
    pub(crate) fn walk(&self) -> Vec<&Module> {
        fn go<'a>(m: &'a Module, out: &mut Vec<&'a Module>) {
            out.push(m);
            for c in &m.children {
                go(c, out);
            }
        }
        let mut out = Vec::new();
        go(self, &mut out);
        out
    }

    /// One call of this module, recorded.
    pub(crate) fn forward(&self, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
        let out = match &self.layer {
            Layer::Sequential => children_in_order(self, x, rec)?,
            Layer::Block(forward) => forward(self, x, rec)?,
            Layer::Multi(_) => {
                let mut outs = self.forward_multi(&[x], rec)?;
                return match outs.len() {
                    1 => Ok(outs.remove(0)),
                    n => Err(ForwardError::new(
                        &self.path,
                        self.type_name(),
                        format!("internal error: returned {n} outputs where one was expected"),
                    )),
                };
            }
            leaf => {
                rec.consume(x, self.id);
                let t = self
                    .leaf_forward(leaf, &x.t, rec)
                    .map_err(|e| self.error(e))?;
                rec.produce(self.id, t)
            }
        };
        let values = rec.finish_call(self.id, std::slice::from_ref(&out));
        self.check_not_empty(&values)?;
        Ok(out)
    }

    /// One call with these inputs, recorded with every output it returns. Modules that are not
    /// [`Layer::Multi`] take one input and return one output, as [`Module::forward`] runs them.
    pub(crate) fn forward_multi(
        &self,
        xs: &[&Act],
        rec: &mut Recorder,
    ) -> Result<Vec<Act>, ForwardError> {
        let Layer::Multi(forward) = &self.layer else {
            return match xs {
                [x] => Ok(vec![self.forward(x, rec)?]),
                _ => Err(ForwardError::new(
                    &self.path,
                    self.type_name(),
                    format!("internal error: takes one input, given {}", xs.len()),
                )),
            };
        };
        let outs = forward(self, xs, rec)?;
        let values = rec.finish_call(self.id, &outs);
        self.check_not_empty(&values)?;
        Ok(outs)
    }

    fn check_not_empty(&self, values: &[crate::summary::TensorValue]) -> Result<(), ForwardError> {
        match values.iter().find(|v| v.shape.contains(&0)) {
            Some(value) => {
                let shape: Vec<String> = value.shape.iter().map(u64::to_string).collect();
                Err(ForwardError::new(
                    &self.path,
                    self.type_name(),
                    format!("output [{}] is empty", shape.join(", ")),
                ))
            }
            None => Ok(()),
        }
    }

    /// This module computes from `xs` itself (what a leaf's call records for its input).
    pub(crate) fn consume(&self, xs: &[&Act], rec: &mut Recorder) {
        for x in xs {
            rec.consume(x, self.id);
        }
    }

    /// `t` is this module's own result (what a leaf's call records for its output).
    pub(crate) fn produce(&self, t: Tensor, rec: &mut Recorder) -> Act {
        rec.produce(self.id, t)
    }

    pub(crate) fn error(&self, err: TchError) -> ForwardError {
        ForwardError::torch(&self.path, self.type_name(), err)
    }

    fn leaf_forward(
        &self,
        layer: &Layer,
        x: &Tensor,
        rec: &mut Recorder,
    ) -> Result<Tensor, TchError> {
        Ok(match layer {
            Layer::Conv2d(c) => {
                let y = x.f_conv2d(
                    &c.weight,
                    c.bias.as_ref(),
                    c.stride,
                    c.padding,
                    [1, 1],
                    c.groups,
                )?;
                // Each output element is a dot product over (in_channels / groups) × kernel area.
                let per_output: i64 = c.weight.size().iter().skip(1).product();
                rec.add_op_mult_adds(self.id, numel(&y).saturating_mul(per_output as u64));
                y
            }
            Layer::Linear(l) => {
                let y = x.f_linear(&l.weight, l.bias.as_ref())?;
                let in_features = l.weight.size().get(1).copied().unwrap_or(0);
                rec.add_op_mult_adds(self.id, numel(&y).saturating_mul(in_features as u64));
                y
            }
            Layer::BatchNorm2d(b) => x.f_batch_norm(
                Some(&b.weight),
                Some(&b.bias),
                Some(&b.running_mean),
                Some(&b.running_var),
                rec.is_training(),
                0.1,
                b.eps,
                false,
            )?,
            Layer::LayerNorm(n) => x.f_layer_norm(
                n.weight.size(),
                Some(&n.weight),
                n.bias.as_ref(),
                n.eps,
                false,
            )?,
            Layer::NchwLayerNorm(n) => x
                .f_permute([0, 2, 3, 1])?
                .f_layer_norm(
                    n.weight.size(),
                    Some(&n.weight),
                    n.bias.as_ref(),
                    n.eps,
                    false,
                )?
                .f_permute([0, 3, 1, 2])?,
            Layer::Embedding(e) => Tensor::f_embedding(&e.weight, x, -1, false, false)?,
            Layer::Conv1D(c) => {
                // bias + x @ weight over the flattened leading dimensions, as transformers computes it.
                let size = x.size();
                let (in_features, out_features) = (c.weight.size()[0], c.weight.size()[1]);
                let mut out_size = size[..size.len().saturating_sub(1)].to_vec();
                out_size.push(out_features);
                let y = c
                    .bias
                    .f_addmm(&x.f_reshape([-1, in_features])?, &c.weight)?
                    .f_view(out_size.as_slice())?;
                rec.add_op_mult_adds(self.id, numel(&y).saturating_mul(in_features as u64));
                y
            }
            Layer::RMSNorm(n) => {
                let x32 = x.f_to_kind(tch::Kind::Float)?;
                let variance = x32.f_pow_tensor_scalar(2)?.f_mean_dim(-1, true, None)?;
                let normed = x32.f_mul(&variance.f_add_scalar(n.eps)?.f_rsqrt()?)?;
                n.weight.f_mul(&normed.f_to_kind(x.kind())?)?
            }
            Layer::ReLU => x.f_relu()?,
            Layer::ReLU6 => x.f_relu6()?,
            Layer::SiLU => x.f_silu()?,
            Layer::Sigmoid => x.f_sigmoid()?,
            Layer::Gelu(GeluApproximation::None) => x.f_gelu("none")?,
            Layer::Gelu(GeluApproximation::Tanh) => x.f_gelu("tanh")?,
            Layer::Hardswish => x.f_hardswish()?,
            Layer::Hardsigmoid => x.f_hardsigmoid()?,
            Layer::Tanh => x.f_tanh()?,
            Layer::Custom(forward) => forward(x)?,
            Layer::MaxPool2d(p) => {
                x.f_max_pool2d(p.kernel, p.stride, p.padding, [1, 1], p.ceil_mode)?
            }
            Layer::AvgPool2d(p) => {
                x.f_avg_pool2d(p.kernel, p.stride, p.padding, p.ceil_mode, true, None)?
            }
            Layer::AdaptiveAvgPool2d(size) => x.f_adaptive_avg_pool2d(size)?,
            Layer::Identity => x.shallow_clone(),
            Layer::Dropout(p) if rec.is_training() && *p > 0.0 => x.f_dropout(*p, true)?,
            Layer::Dropout(_) => x.shallow_clone(),
            Layer::Sequential | Layer::Block(_) | Layer::Multi(_) => {
                unreachable!("containers and multi-input modules have their own forwards")
            }
        })
    }
}

fn numel(t: &Tensor) -> u64 {
    t.size().iter().map(|&d| d.max(0) as u64).product()
}

/// The forward of a module that torchvision calls only in training mode (GoogLeNet's and Inception
/// v3's auxiliary classifiers); built-ins run in eval mode, so reaching it is a bug in a family's
/// forward.
pub(crate) fn training_only(m: &Module, _: &Act, _: &mut Recorder) -> Result<Act, ForwardError> {
    Err(ForwardError::new(
        &m.path,
        m.type_name(),
        "internal error: called in eval mode, but it runs only in training",
    ))
}

/// The forward of a `ModuleList`, which PyTorch never calls: its parent calls the items one by one.
pub(crate) fn not_callable(m: &Module, _: &Act, _: &mut Recorder) -> Result<Act, ForwardError> {
    Err(ForwardError::new(
        &m.path,
        m.type_name(),
        "internal error: a ModuleList is not called; its parent calls its items",
    ))
}

/// The forward of a container that runs its children one after another, like `Sequential`, for
/// classes that are not called `Sequential` (`_DenseLayer`, `_Transition`, `Conv2dNormActivation` …).
pub(crate) fn children_in_order(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
) -> Result<Act, ForwardError> {
    let mut current = x.share();
    for child in &m.children {
        current = child.forward(&current, rec)?;
    }
    Ok(current)
}
