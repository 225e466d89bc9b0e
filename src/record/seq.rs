//! Drop-ins for `nn::seq()` and `nn::seq_t()` whose every layer is recorded, and [`func`], a closure
//! with a class name so it gets a row of its own (`ReLU`, `MaxPool2d`) as a PyTorch module would.
//!
//! A layer added here is wrapped in a [`Recorded`](super::Recorded) unless it records itself already
//! (a nested `record::seq()`, a `record::func`, a `record::layer`), so no call is counted twice.

use super::layer::Meta;
use tch::Tensor;
use tch::nn::{Module, ModuleT};

const SELF_RECORDING: &str = "tchinfo::record::";

/// True for this module's own types, which record themselves.
fn records_itself<M>() -> bool {
    std::any::type_name::<M>().starts_with(SELF_RECORDING)
}

/// `nn::seq()`, recorded: the container and every layer added.
#[derive(Debug)]
pub struct Sequential {
    meta: Meta,
    layers: Vec<Box<dyn Module>>,
}

/// `nn::seq_t()`, recorded.
#[derive(Debug)]
pub struct SequentialT {
    meta: Meta,
    layers: Vec<Box<dyn ModuleT>>,
}

/// A recorded `nn::seq()`.
pub fn seq() -> Sequential {
    Sequential {
        meta: Meta::named("Sequential", None),
        layers: Vec::new(),
    }
}

/// A recorded `nn::seq_t()`.
pub fn seq_t() -> SequentialT {
    SequentialT {
        meta: Meta::named("Sequential", None),
        layers: Vec::new(),
    }
}

impl Sequential {
    /// Appends a layer, recorded. (Named as `nn::Sequential::add`, so that this is a drop-in.)
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: Module + 'static>(mut self, layer: M) -> Self {
        if records_itself::<M>() {
            self.layers.push(Box::new(layer));
        } else {
            self.layers.push(Box::new(super::layer(layer)));
        }
        self
    }

    /// Appends a closure, recorded as a `Func` row; [`func`] gives it a class name.
    pub fn add_fn<F>(self, f: F) -> Self
    where
        F: 'static + Fn(&Tensor) -> Tensor + Send,
    {
        self.add(func("Func", f))
    }

    pub fn len(&self) -> i64 {
        self.layers.len() as i64
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, xs: &Tensor) -> Tensor {
        self.meta.record(Some(xs), || {
            let mut layers = self.layers.iter();
            match layers.next() {
                None => xs.shallow_clone(),
                Some(first) => layers.fold(first.forward(xs), |x, l| l.forward(&x)),
            }
        })
    }
}

impl SequentialT {
    /// Appends a layer, recorded. (Named as `nn::SequentialT::add`, so that this is a drop-in.)
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: ModuleT + 'static>(mut self, layer: M) -> Self {
        if records_itself::<M>() {
            self.layers.push(Box::new(layer));
        } else {
            self.layers.push(Box::new(super::layer_t(layer)));
        }
        self
    }

    /// Appends a closure, recorded as a `Func` row; [`func`] gives it a class name.
    pub fn add_fn<F>(self, f: F) -> Self
    where
        F: 'static + Fn(&Tensor) -> Tensor + Send,
    {
        self.add(func("Func", f))
    }

    /// Appends a closure that also takes the training flag, recorded as a `Func` row.
    pub fn add_fn_t<F>(self, f: F) -> Self
    where
        F: 'static + Fn(&Tensor, bool) -> Tensor + Send,
    {
        self.add(func_t("Func", f))
    }

    pub fn len(&self) -> i64 {
        self.layers.len() as i64
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl ModuleT for SequentialT {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.meta.record(Some(xs), || {
            let mut layers = self.layers.iter();
            match layers.next() {
                None => xs.shallow_clone(),
                Some(first) => {
                    layers.fold(first.forward_t(xs, train), |x, l| l.forward_t(&x, train))
                }
            }
        })
    }
}

type Closure = Box<dyn Fn(&Tensor) -> Tensor + Send>;
type ClosureT = Box<dyn Fn(&Tensor, bool) -> Tensor + Send>;

/// A parameter-free layer written as a closure, recorded as a row of class `type_name`.
pub struct Func {
    meta: Meta,
    f: Closure,
}

/// [`Func`] with the training flag (dropout).
pub struct FuncT {
    meta: Meta,
    f: ClosureT,
}

/// `nn::func(f)` with a class name: `record::func("ReLU", |x| x.relu())`.
pub fn func<F>(type_name: &str, f: F) -> Func
where
    F: 'static + Fn(&Tensor) -> Tensor + Send,
{
    Func {
        meta: Meta::named(type_name, None),
        f: Box::new(f),
    }
}

/// `nn::func_t(f)` with a class name: `record::func_t("Dropout", |x, train| x.dropout(0.1, train))`.
pub fn func_t<F>(type_name: &str, f: F) -> FuncT
where
    F: 'static + Fn(&Tensor, bool) -> Tensor + Send,
{
    FuncT {
        meta: Meta::named(type_name, None),
        f: Box::new(f),
    }
}

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.meta.fmt(f)
    }
}

impl std::fmt::Debug for FuncT {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.meta.fmt(f)
    }
}

impl Module for Func {
    fn forward(&self, xs: &Tensor) -> Tensor {
        self.meta.record(Some(xs), || (self.f)(xs))
    }
}

impl ModuleT for FuncT {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.meta.record(Some(xs), || (self.f)(xs, train))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_types_are_not_wrapped_twice() {
        assert!(records_itself::<Sequential>());
        assert!(records_itself::<Func>());
        assert!(records_itself::<super::super::Recorded<tch::nn::Linear>>());
        assert!(!records_itself::<tch::nn::Linear>());
    }
}
