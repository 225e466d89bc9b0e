//! Recording a tch model's forward pass, layer by layer: torchinfo's `summary(model, input_size)` for
//! your own Rust models.
//!
//! tch has no forward hooks, so the layers you want to see report their calls themselves. Build the
//! model with [`seq`] instead of `nn::seq()` (every layer added becomes a row), or wrap any layer or
//! your own module with [`layer`] (a [`Recorded`], which is still a `Module`), then let [`summarize`]
//! run one forward pass:
//!
//! ```no_run
//! use tch::nn::{self, Module};
//! use tchinfo::record;
//!
//! let vs = nn::VarStore::new(tch::Device::Cpu);
//! let root = vs.root();
//! let net = record::seq() // was nn::seq()
//!     .add(nn::linear(&root / "fc1", 784, 128, Default::default()))
//!     .add(record::func("ReLU", |x| x.relu()))
//!     .add(nn::linear(&root / "fc2", 128, 10, Default::default()));
//! let input = tch::Tensor::zeros([1, 784], (tch::Kind::Float, tch::Device::Cpu));
//! let summary = record::summarize(&vs, "mlp", &[&input], || net.forward(&input)).unwrap();
//! print!("{}", tchinfo::reports::summary::render(&summary, &Default::default()));
//! ```
//!
//! The parts, and what each promises:
//! - `layer`: [`Recorded`] and [`RecordedT`] wrap one `Module` / `ModuleT` and never change what it
//!   computes. tch's own layers (Linear, convolutions, Embedding, norms) are recognised: their row gets
//!   PyTorch's class name, the path of their variables, and per-operator mult-adds.
//! - `seq`: [`seq`] and [`seq_t`], drop-ins for `nn::seq()` and `nn::seq_t()` that record every layer
//!   added, and [`func`], a closure with a class name (`ReLU`) for a row of its own.
//! - `ops`: the attention product and matrix products written in a forward, counted as the enclosing
//!   layer's per-operator mult-adds ([`scaled_dot_product_attention`], [`matmul`]).
//! - `session`: the recording of one forward pass, on this thread only; outside [`summarize`] a
//!   recorded layer costs one thread-local lookup per call.
//! - `summary`: [`summarize`] ([`run`] to collect, [`Recording::into_summary`] to aggregate) puts
//!   what was recorded onto the `VarStore`'s tree: each recorded layer
//!   finds its node by its variables (or the path you gave it, or its position in its parent, as
//!   PyTorch numbers a `Sequential`), and a layer without variables (ReLU) gets a node of its own.
//!
//! The built-in architectures are recorded by the same [`Recorder`](crate::sources::builtin) (its
//! calls, outputs and operator mult-adds), numbered before the forward instead of as they are called.

mod layer;
mod ops;
mod seq;
mod session;
mod summary;

pub use layer::{Outputs, Recorded, RecordedT, layer, layer_at, layer_t, layer_t_at};
pub use ops::{matmul, scaled_dot_product_attention};
pub use seq::{Func, FuncT, Sequential, SequentialT, func, func_t, seq, seq_t};
pub use summary::{Recording, run, summarize};
