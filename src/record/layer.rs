//! A recorded layer: [`Recorded`] (a `Module`) and [`RecordedT`] (a `ModuleT`) wrap what you built and
//! report each call to the recording session, if one is running. What the layer computes is not
//! touched: the wrapper calls it and looks at the shapes of what it returned.
//!
//! tch's own layers are recognised by their Rust type, so their rows read as in PyTorch (`Conv2d`,
//! `Linear`, `BatchNorm2d`), find their place in the `VarStore` by their variables, and count their
//! operator: a convolution's output elements × (input channels per group × kernel), a Linear's output
//! elements × its input features, an Embedding nothing (a lookup multiplies nothing) — the formulas
//! every source uses (`op_macs`). Any other module is named after its Rust type (`MyBlock`) and counts
//! what its own forward reports through [`crate::record::matmul`] and friends.

use super::session;
use crate::summary::TensorValue;
use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicU64, Ordering};
use tch::nn::{self, Module, ModuleT};
use tch::{TchError, Tensor};
use tchinfo_core::op_macs::{self, Arg};

/// What a recorded call returns, as the tensors a summary row shows: one tensor, a tuple of them, an
/// LSTM's output and state … in order, nested tuples flattened.
pub trait Outputs {
    fn push_values(&self, out: &mut Vec<TensorValue>);
}

impl Outputs for Tensor {
    fn push_values(&self, out: &mut Vec<TensorValue>) {
        out.push(crate::sources::builtin::recorder::tensor_value(self));
    }
}

impl<T: Outputs> Outputs for &T {
    fn push_values(&self, out: &mut Vec<TensorValue>) {
        (**self).push_values(out)
    }
}

impl<T: Outputs> Outputs for Vec<T> {
    fn push_values(&self, out: &mut Vec<TensorValue>) {
        self.iter().for_each(|t| t.push_values(out))
    }
}

impl<T: Outputs> Outputs for Option<T> {
    fn push_values(&self, out: &mut Vec<TensorValue>) {
        if let Some(t) = self {
            t.push_values(out)
        }
    }
}

/// A fallible call (tch's `f_` functions) records its tensors when it succeeded.
impl<T: Outputs> Outputs for Result<T, TchError> {
    fn push_values(&self, out: &mut Vec<TensorValue>) {
        if let Ok(t) = self {
            t.push_values(out)
        }
    }
}

impl<A: Outputs, B: Outputs> Outputs for (A, B) {
    fn push_values(&self, out: &mut Vec<TensorValue>) {
        self.0.push_values(out);
        self.1.push_values(out);
    }
}

impl<A: Outputs, B: Outputs, C: Outputs> Outputs for (A, B, C) {
    fn push_values(&self, out: &mut Vec<TensorValue>) {
        self.0.push_values(out);
        self.1.push_values(out);
        self.2.push_values(out);
    }
}

impl Outputs for nn::LSTMState {
    fn push_values(&self, out: &mut Vec<TensorValue>) {
        self.0.push_values(out)
    }
}

impl Outputs for nn::GRUState {
    fn push_values(&self, out: &mut Vec<TensorValue>) {
        self.0.push_values(out)
    }
}

/// The operator a recognised tch layer runs, with the weight shape its count reads.
#[derive(Debug, Clone)]
enum Operator {
    Linear(Vec<u64>),
    Conv(Vec<u64>),
    ConvTranspose(Vec<u64>),
    /// An embedding lookup: no multiply-accumulate.
    Lookup,
}

impl Operator {
    fn mult_adds(&self, input: Option<&[u64]>, first_output: Option<&[u64]>) -> Option<u64> {
        let t = |s: &[u64]| Arg::Tensor(s.to_vec());
        match self {
            Operator::Linear(w) => {
                op_macs::try_mult_adds("aten::linear", &[Arg::Other, t(w), t(first_output?)])
            }
            Operator::Conv(w) => {
                op_macs::try_mult_adds("aten::conv2d", &[Arg::Other, t(w), t(first_output?)])
            }
            Operator::ConvTranspose(w) => op_macs::try_mult_adds(
                "aten::conv_transpose2d",
                &[t(input?), t(w), t(first_output?)],
            ),
            Operator::Lookup => Some(0),
        }
    }
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// Who a recorded layer is: what the session needs to give it a row.
pub(crate) struct Meta {
    /// Unique per wrapper: the session's key for "the same layer, called again".
    pub(crate) key: u64,
    /// The class name shown: PyTorch's for tch's layers, the Rust type's otherwise.
    pub(crate) type_name: String,
    /// The path given by the user ([`layer_at`]); otherwise found from variables or the position.
    pub(crate) path: Option<String>,
    /// The layer's own variables (tch's layers), to find its path in the `VarStore`.
    pub(crate) tensors: Vec<Tensor>,
    operator: Option<Operator>,
}

impl std::fmt::Debug for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded")
            .field("type_name", &self.type_name)
            .field("path", &self.path)
            .finish()
    }
}

impl Meta {
    /// A layer of class `type_name` with no variables of its own known here.
    pub(crate) fn named(type_name: impl Into<String>, path: Option<String>) -> Meta {
        Meta {
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
            type_name: type_name.into(),
            path,
            tensors: Vec::new(),
            operator: None,
        }
    }

    /// What `m` is: a recognised tch layer, or a module named after its Rust type.
    pub(crate) fn of<M: Any>(m: &M, path: Option<String>) -> Meta {
        let mut meta = Meta::named(rust_type_name::<M>(), path);
        recognise(m, &mut meta);
        meta
    }

    /// Operator mult-adds of one call, for a recognised layer.
    pub(crate) fn op_mult_adds(
        &self,
        input: Option<&Tensor>,
        outputs: &[TensorValue],
    ) -> Option<u64> {
        let operator = self.operator.as_ref()?;
        // Only a transposed convolution's count reads its input: spare the others a libtorch call.
        let input = match operator {
            Operator::ConvTranspose(_) => input.map(shape),
            _ => None,
        };
        operator.mult_adds(
            input.as_deref(),
            outputs.first().map(|v| v.shape.as_slice()),
        )
    }

    /// Runs `f` (this layer's computation on `input`) and records the call when a session is on.
    pub(crate) fn record<T: Outputs>(&self, input: Option<&Tensor>, f: impl FnOnce() -> T) -> T {
        session::call(self, input, f)
    }
}

fn shape(t: &Tensor) -> Vec<u64> {
    t.size().iter().map(|&d| d.max(0) as u64).collect()
}

/// `my_crate::blocks::Attention<f32>` → `Attention`.
fn rust_type_name<M>() -> String {
    let full = std::any::type_name::<M>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

/// tch's layers: PyTorch's class name, their variables and their operator.
fn recognise<M: Any>(m: &M, meta: &mut Meta) {
    let any = m as &dyn Any;
    let id = TypeId::of::<M>();
    let weights = |ws: &Tensor, bs: &Option<Tensor>| {
        let mut v = vec![ws.shallow_clone()];
        v.extend(bs.iter().map(Tensor::shallow_clone));
        v
    };
    let optional = |ts: &[&Option<Tensor>]| -> Vec<Tensor> {
        ts.iter()
            .filter_map(|t| t.as_ref().map(Tensor::shallow_clone))
            .collect()
    };
    let mut set = |name: &str, tensors: Vec<Tensor>, operator: Option<Operator>| {
        meta.type_name = name.to_string();
        meta.tensors = tensors;
        meta.operator = operator;
    };
    if let Some(l) = any.downcast_ref::<nn::Linear>() {
        set(
            "Linear",
            weights(&l.ws, &l.bs),
            Some(Operator::Linear(shape(&l.ws))),
        );
    } else if let Some(c) = any.downcast_ref::<nn::Conv1D>() {
        set(
            "Conv1d",
            weights(&c.ws, &c.bs),
            Some(Operator::Conv(shape(&c.ws))),
        );
    } else if let Some(c) = any.downcast_ref::<nn::Conv2D>() {
        set(
            "Conv2d",
            weights(&c.ws, &c.bs),
            Some(Operator::Conv(shape(&c.ws))),
        );
    } else if let Some(c) = any.downcast_ref::<nn::Conv3D>() {
        set(
            "Conv3d",
            weights(&c.ws, &c.bs),
            Some(Operator::Conv(shape(&c.ws))),
        );
    } else if let Some(c) = any.downcast_ref::<nn::ConvTranspose1D>() {
        let op = Operator::ConvTranspose(shape(&c.ws));
        set("ConvTranspose1d", weights(&c.ws, &c.bs), Some(op));
    } else if let Some(c) = any.downcast_ref::<nn::ConvTranspose2D>() {
        let op = Operator::ConvTranspose(shape(&c.ws));
        set("ConvTranspose2d", weights(&c.ws, &c.bs), Some(op));
    } else if let Some(c) = any.downcast_ref::<nn::ConvTranspose3D>() {
        let op = Operator::ConvTranspose(shape(&c.ws));
        set("ConvTranspose3d", weights(&c.ws, &c.bs), Some(op));
    } else if let Some(e) = any.downcast_ref::<nn::Embedding>() {
        set(
            "Embedding",
            vec![e.ws.shallow_clone()],
            Some(Operator::Lookup),
        );
    } else if let Some(n) = any.downcast_ref::<nn::LayerNorm>() {
        set("LayerNorm", optional(&[&n.ws, &n.bs]), None);
    } else if let Some(n) = any.downcast_ref::<nn::GroupNorm>() {
        set("GroupNorm", optional(&[&n.ws, &n.bs]), None);
    } else if let Some(b) = any.downcast_ref::<nn::BatchNorm>() {
        let mut tensors = optional(&[&b.ws, &b.bs]);
        tensors.push(b.running_mean.shallow_clone());
        tensors.push(b.running_var.shallow_clone());
        set(&format!("BatchNorm{}d", b.nd.clamp(1, 3)), tensors, None);
    } else if id == TypeId::of::<nn::Sequential>() || id == TypeId::of::<nn::SequentialT>() {
        set("Sequential", Vec::new(), None);
    } else if id == TypeId::of::<nn::Func<'static>>() || id == TypeId::of::<nn::FuncT<'static>>() {
        set("Func", Vec::new(), None);
    }
}

/// One layer of a tch model, recorded: a `Module` that computes what `M` computes. Reach the layer
/// itself through `Deref` (`recorded.ws`), and record a call with several inputs or outputs (an LSTM,
/// an attention returning its weights) with [`Recorded::call`].
#[derive(Debug)]
pub struct Recorded<M> {
    inner: M,
    meta: Meta,
}

/// [`Recorded`] for a `ModuleT` (batch norm, dropout, your own `ModuleT`).
#[derive(Debug)]
pub struct RecordedT<M> {
    inner: M,
    meta: Meta,
}

/// Records `m`'s calls: through `Module::forward` when `M` is a `Module`, or any call with
/// [`Recorded::call`] (an LSTM's `seq`). Its row's path is found from its variables (tch's layers), from the layers
/// recorded inside it (your module), or from its position in the recorded module that calls it.
pub fn layer<M: 'static>(m: M) -> Recorded<M> {
    let meta = Meta::of(&m, None);
    Recorded { inner: m, meta }
}

/// [`layer`] at the path you give, usually the `nn::Path` its variables were created under.
pub fn layer_at<'a, M: 'static>(path: impl std::borrow::Borrow<nn::Path<'a>>, m: M) -> Recorded<M> {
    let meta = Meta::of(&m, Some(path_text(path.borrow())));
    Recorded { inner: m, meta }
}

/// [`layer`] for a `ModuleT`.
pub fn layer_t<M: 'static>(m: M) -> RecordedT<M> {
    let meta = Meta::of(&m, None);
    RecordedT { inner: m, meta }
}

/// [`layer_at`] for a `ModuleT`.
pub fn layer_t_at<'a, M: 'static>(
    path: impl std::borrow::Borrow<nn::Path<'a>>,
    m: M,
) -> RecordedT<M> {
    let meta = Meta::of(&m, Some(path_text(path.borrow())));
    RecordedT { inner: m, meta }
}

pub(crate) fn path_text(p: &nn::Path) -> String {
    p.components().collect::<Vec<_>>().join(".")
}

macro_rules! recorded_common {
    ($name:ident) => {
        impl<M> $name<M> {
            /// One call of the layer with whatever arguments and results it has (`lstm.seq(&x)`,
            /// an attention returning its weights too), recorded with every tensor it returns.
            pub fn call<T: Outputs>(&self, f: impl FnOnce(&M) -> T) -> T {
                self.meta.record(None, || f(&self.inner))
            }

            /// The layer, unwrapped.
            pub fn into_inner(self) -> M {
                self.inner
            }
        }

        impl<M> std::ops::Deref for $name<M> {
            type Target = M;
            fn deref(&self) -> &M {
                &self.inner
            }
        }

        impl<M> std::ops::DerefMut for $name<M> {
            fn deref_mut(&mut self) -> &mut M {
                &mut self.inner
            }
        }
    };
}

recorded_common!(Recorded);
recorded_common!(RecordedT);

impl<M: Module> Module for Recorded<M> {
    fn forward(&self, xs: &Tensor) -> Tensor {
        self.meta.record(Some(xs), || self.inner.forward(xs))
    }
}

impl<M: ModuleT> ModuleT for RecordedT<M> {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.meta
            .record(Some(xs), || self.inner.forward_t(xs, train))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_lose_their_module_and_generics() {
        struct Block<T>(T);
        let _ = Block(0).0;
        assert_eq!(rust_type_name::<Block<f32>>(), "Block");
        assert_eq!(rust_type_name::<nn::Linear>(), "Linear");
    }

    #[test]
    fn tch_layers_are_named_as_in_pytorch() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let root = vs.root();
        let conv = Meta::of(&nn::conv2d(&root / "c", 3, 8, 3, Default::default()), None);
        assert_eq!((conv.type_name.as_str(), conv.tensors.len()), ("Conv2d", 2));
        let bn = Meta::of(&nn::batch_norm1d(&root / "b", 8, Default::default()), None);
        assert_eq!(
            (bn.type_name.as_str(), bn.tensors.len()),
            ("BatchNorm1d", 4)
        );
        let f = Meta::of(&nn::func(|x| x.relu()), None);
        assert_eq!(f.type_name, "Func");
    }
}
