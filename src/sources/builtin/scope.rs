//! Building modules: a [`Scope`] is one module's place in the tree and in the `VarStore`, so variables
//! get exactly torchvision's state-dict names (`features.0.weight`, `layer1.0.bn1.running_mean`).
//!
//! Values never matter here — only shapes and counts do — so variables are not randomly initialised.
//! Random initialisation writes every weight: for VGG-16 that is 553 MB made resident and, measured on
//! the 2-core benchmark machine, ~0.8 s for the uniform draws alone (`torchvision.models.vgg16()` takes
//! ~2 s); even zero-filling costs ~0.25 s. Instead large tensors are left uninitialised: the allocator
//! takes fresh pages from the kernel, which read as zeros and cost no resident memory until written, and
//! the forward pass only reads them. Should the allocator hand back reused memory instead, the values are
//! whatever was there: that can change the numbers a forward pass computes (and, for denormals, its
//! speed) but never a shape or a count. Small tensors are zeroed, which is cheap.

use super::module::{
    BatchNorm2d, BlockForward, Conv2d, CustomForward, GeluApproximation, Layer, LayerNorm, Linear,
    Module, Own, Pool2d, not_callable,
};
use super::recorder::{Act, ForwardError, Recorder};
use tch::{Device, Kind, TchError, Tensor, nn};

/// Tensors at least this large are created uninitialised (see the module comment). Below it libtorch
/// zero-fills on one thread; above it (32,768 floats) the fill goes parallel, and waking the OpenMP
/// pool for each of DenseNet's hundreds of mid-sized weights costs more than the fill itself.
/// 128 KiB is also glibc's initial threshold for serving an allocation with fresh pages (mmap).
const UNINITIALISED_FROM_BYTES: i64 = 128 << 10;

#[derive(Clone)]
pub(crate) struct Scope<'a> {
    vs: nn::Path<'a>,
    path: String,
    name: String,
    /// The element type of parameters created here and below.
    kind: Kind,
}

impl<'a> Scope<'a> {
    pub(crate) fn root(vs: &'a nn::VarStore) -> Scope<'a> {
        Scope {
            vs: vs.root(),
            path: String::new(),
            name: String::new(),
            kind: Kind::Float,
        }
    }

    /// This scope, with parameters (here and below) of element type `kind` instead of float32: a model
    /// built in its config's dtype, as transformers' `from_config` does.
    pub(crate) fn with_param_kind(&self, kind: Kind) -> Scope<'a> {
        Scope {
            kind,
            ..self.clone()
        }
    }

    pub(crate) fn sub(&self, name: impl ToString) -> Scope<'a> {
        let name = name.to_string();
        let path = if self.path.is_empty() {
            name.clone()
        } else {
            format!("{}.{name}", self.path)
        };
        Scope {
            vs: &self.vs / name.as_str(),
            path,
            name,
            kind: self.kind,
        }
    }

    fn tensor(
        &self,
        name: &str,
        dims: &[i64],
        kind: Kind,
        trainable: bool,
    ) -> Result<Tensor, TchError> {
        let bytes = dims
            .iter()
            .product::<i64>()
            .saturating_mul(kind.elt_size_in_bytes() as i64);
        let t = if bytes >= UNINITIALISED_FROM_BYTES {
            let t = Tensor::f_empty(dims, (kind, Device::Cpu))?;
            huge_pages::advise(&t, bytes as usize);
            t
        } else {
            Tensor::f_zeros(dims, (kind, Device::Cpu))?
        };
        Ok(self.vs.add(name, t, trainable))
    }

    fn param(&self, name: &str, dims: &[i64]) -> Result<Tensor, TchError> {
        self.tensor(name, dims, self.kind, true)
    }

    fn buffer(&self, name: &str, dims: &[i64], kind: Kind) -> Result<Tensor, TchError> {
        self.tensor(name, dims, kind, false)
    }

    /// A parameter the module at this scope registers itself (`nn.Parameter` as an attribute).
    pub(crate) fn own_param(&self, name: &'static str, dims: &[i64]) -> Result<Own, TchError> {
        Ok(Own {
            name,
            tensor: self.param(name, dims)?,
            buffer: false,
        })
    }

    /// A buffer the module at this scope registers (`register_buffer`), with the values given: index
    /// tables must hold valid indices for the forward pass to run.
    pub(crate) fn own_buffer(&self, name: &'static str, values: Tensor) -> Own {
        Own {
            name,
            tensor: self.vs.add(name, values, false),
            buffer: true,
        }
    }

    /// A parameter that is another's tensor (a language model head tied to its token embedding):
    /// registered under this scope's name too, as PyTorch's state dict lists it, and counted once
    /// because it shares that tensor's storage.
    pub(crate) fn tied_param(&self, name: &str, tensor: &Tensor) -> Tensor {
        self.vs.add(name, tensor.shallow_clone(), true)
    }

    /// A module at this scope.
    pub(crate) fn module(
        &self,
        class: &'static str,
        layer: Layer,
        children: Vec<Module>,
    ) -> Module {
        self.module_owning(class, layer, vec![], children)
    }

    /// A module at this scope with tensors of its own besides its layer's.
    pub(crate) fn module_owning(
        &self,
        class: &'static str,
        layer: Layer,
        own: Vec<Own>,
        children: Vec<Module>,
    ) -> Module {
        Module {
            id: 0,
            name: self.name.clone(),
            path: self.path.clone(),
            class,
            layer,
            own,
            children,
        }
    }

    /// A leaf with a family-specific forward (see [`CustomForward`]).
    pub(crate) fn custom(
        &self,
        class: &'static str,
        own: Vec<Own>,
        forward: CustomForward,
    ) -> Module {
        self.module_owning(class, Layer::Custom(forward), own, vec![])
    }

    /// `nn.ModuleList`: a container PyTorch never calls; the parent's forward calls its items.
    pub(crate) fn module_list(&self, children: Vec<Module>) -> Module {
        self.block(
            "torch.nn.modules.container.ModuleList",
            not_callable,
            children,
        )
    }

    pub(crate) fn sequential(&self, children: Vec<Module>) -> Module {
        self.module(
            "torch.nn.modules.container.Sequential",
            Layer::Sequential,
            children,
        )
    }

    /// A container with its own forward (a ResNet block, an Inception module …).
    pub(crate) fn block(
        &self,
        class: &'static str,
        forward: impl Fn(&Module, &Act, &mut Recorder) -> Result<Act, ForwardError> + 'static,
        children: Vec<Module>,
    ) -> Module {
        self.block_owning(class, forward, vec![], children)
    }

    /// A container with its own forward and tensors of its own (ConvNeXt's `layer_scale`, ViT's
    /// `class_token`, MultiheadAttention's `in_proj_weight` …).
    pub(crate) fn block_owning(
        &self,
        class: &'static str,
        forward: impl Fn(&Module, &Act, &mut Recorder) -> Result<Act, ForwardError> + 'static,
        own: Vec<Own>,
        children: Vec<Module>,
    ) -> Module {
        let forward: BlockForward = Box::new(forward);
        self.module_owning(class, Layer::Block(forward), own, children)
    }

    /// A `Sequential` whose children are numbered as they are pushed.
    pub(crate) fn seq(&self) -> Seq<'a> {
        Seq {
            scope: self.clone(),
            items: Vec::new(),
        }
    }

    pub(crate) fn conv2d(&self, spec: Conv) -> Result<Module, TchError> {
        let weight = self.param(
            "weight",
            &[
                spec.cout,
                spec.cin / spec.groups,
                spec.kernel[0],
                spec.kernel[1],
            ],
        )?;
        let bias = if spec.bias {
            Some(self.param("bias", &[spec.cout])?)
        } else {
            None
        };
        let layer = Layer::Conv2d(Conv2d {
            weight,
            bias,
            stride: spec.stride,
            padding: spec.padding,
            groups: spec.groups,
        });
        Ok(self.module("torch.nn.modules.conv.Conv2d", layer, vec![]))
    }

    pub(crate) fn batch_norm2d(&self, channels: i64, eps: f64) -> Result<Module, TchError> {
        let layer = Layer::BatchNorm2d(BatchNorm2d {
            weight: self.param("weight", &[channels])?,
            bias: self.param("bias", &[channels])?,
            running_mean: self.buffer("running_mean", &[channels], Kind::Float)?,
            running_var: self.buffer("running_var", &[channels], Kind::Float)?,
            eps,
        });
        // A scalar int64 step counter, as in PyTorch; the forward in eval mode never reads it.
        let _step_counter = self.buffer("num_batches_tracked", &[], Kind::Int64)?;
        Ok(self.module("torch.nn.modules.batchnorm.BatchNorm2d", layer, vec![]))
    }

    pub(crate) fn linear(&self, in_features: i64, out_features: i64) -> Result<Module, TchError> {
        self.linear_with(in_features, out_features, true)
    }

    /// `nn.Linear(in_features, out_features, bias=False)`.
    pub(crate) fn linear_no_bias(
        &self,
        in_features: i64,
        out_features: i64,
    ) -> Result<Module, TchError> {
        self.linear_with(in_features, out_features, false)
    }

    fn linear_with(&self, cin: i64, cout: i64, bias: bool) -> Result<Module, TchError> {
        let weight = self.param("weight", &[cout, cin])?;
        let bias = if bias {
            Some(self.param("bias", &[cout])?)
        } else {
            None
        };
        Ok(self.module(
            "torch.nn.modules.linear.Linear",
            Layer::Linear(Linear { weight, bias }),
            vec![],
        ))
    }

    /// `nn.LayerNorm(dim, eps, bias=bias)`: weight (and bias) of `dim` elements.
    pub(crate) fn layer_norm(&self, dim: i64, eps: f64, bias: bool) -> Result<Module, TchError> {
        let weight = self.param("weight", &[dim])?;
        let bias = if bias {
            Some(self.param("bias", &[dim])?)
        } else {
            None
        };
        Ok(self.module(
            "torch.nn.modules.normalization.LayerNorm",
            Layer::LayerNorm(LayerNorm { weight, bias, eps }),
            vec![],
        ))
    }

    /// torchvision's `LayerNorm2d(channels, eps)` (ConvNeXt): a LayerNorm over the channels of an
    /// N, C, H, W input.
    pub(crate) fn layer_norm2d(&self, channels: i64, eps: f64) -> Result<Module, TchError> {
        let weight = self.param("weight", &[channels])?;
        let bias = Some(self.param("bias", &[channels])?);
        Ok(self.module(
            "torchvision.models.convnext.LayerNorm2d",
            Layer::NchwLayerNorm(LayerNorm { weight, bias, eps }),
            vec![],
        ))
    }

    /// `nn.GELU(approximate=...)`.
    pub(crate) fn gelu(&self, approximate: GeluApproximation) -> Module {
        self.module(
            "torch.nn.modules.activation.GELU",
            Layer::Gelu(approximate),
            vec![],
        )
    }

    pub(crate) fn relu(&self) -> Module {
        self.module("torch.nn.modules.activation.ReLU", Layer::ReLU, vec![])
    }

    pub(crate) fn relu6(&self) -> Module {
        self.module("torch.nn.modules.activation.ReLU6", Layer::ReLU6, vec![])
    }

    pub(crate) fn silu(&self) -> Module {
        self.module("torch.nn.modules.activation.SiLU", Layer::SiLU, vec![])
    }

    pub(crate) fn hardswish(&self) -> Module {
        self.module(
            "torch.nn.modules.activation.Hardswish",
            Layer::Hardswish,
            vec![],
        )
    }

    pub(crate) fn hardsigmoid(&self) -> Module {
        self.module(
            "torch.nn.modules.activation.Hardsigmoid",
            Layer::Hardsigmoid,
            vec![],
        )
    }

    pub(crate) fn tanh(&self) -> Module {
        self.module("torch.nn.modules.activation.Tanh", Layer::Tanh, vec![])
    }

    /// `nn.Identity`.
    pub(crate) fn identity(&self) -> Module {
        self.module("torch.nn.modules.linear.Identity", Layer::Identity, vec![])
    }

    /// `nn.Flatten()`: everything after the batch dimension in one.
    pub(crate) fn flatten(&self) -> Module {
        self.custom(
            "torch.nn.modules.flatten.Flatten",
            vec![],
            Box::new(|x| x.f_flatten(1, -1)),
        )
    }

    pub(crate) fn sigmoid(&self) -> Module {
        self.module(
            "torch.nn.modules.activation.Sigmoid",
            Layer::Sigmoid,
            vec![],
        )
    }

    /// `nn.Dropout(p)`: the identity in eval mode; in training mode (`plan`'s measuring run) it
    /// drops with probability `p`, keeping its mask for backward as PyTorch does.
    pub(crate) fn dropout(&self, p: f64) -> Module {
        self.module(
            "torch.nn.modules.dropout.Dropout",
            Layer::Dropout(p),
            vec![],
        )
    }

    pub(crate) fn stochastic_depth(&self) -> Module {
        self.module(
            "torchvision.ops.stochastic_depth.StochasticDepth",
            Layer::Identity,
            vec![],
        )
    }

    pub(crate) fn max_pool2d(&self, pool: Pool) -> Module {
        self.module(
            "torch.nn.modules.pooling.MaxPool2d",
            Layer::MaxPool2d(pool.0),
            vec![],
        )
    }

    pub(crate) fn avg_pool2d(&self, pool: Pool) -> Module {
        self.module(
            "torch.nn.modules.pooling.AvgPool2d",
            Layer::AvgPool2d(pool.0),
            vec![],
        )
    }

    pub(crate) fn adaptive_avg_pool2d(&self, size: [i64; 2]) -> Module {
        self.module(
            "torch.nn.modules.pooling.AdaptiveAvgPool2d",
            Layer::AdaptiveAvgPool2d(size),
            vec![],
        )
    }
}

/// Children of a `Sequential`, named `0`, `1`, … in push order, or by [`Seq::named`].
pub(crate) struct Seq<'a> {
    scope: Scope<'a>,
    items: Vec<Module>,
}

impl<'a> Seq<'a> {
    /// The scope of the next child.
    pub(crate) fn next(&self) -> Scope<'a> {
        self.scope.sub(self.items.len())
    }

    /// The scope of a child with a name of its own (a Sequential built from an `OrderedDict`).
    pub(crate) fn named(&self, name: &str) -> Scope<'a> {
        self.scope.sub(name)
    }

    pub(crate) fn push(&mut self, m: Module) {
        self.items.push(m);
    }

    pub(crate) fn finish(self) -> Module {
        self.scope.sequential(self.items)
    }
}

/// A convolution's hyper-parameters, PyTorch's defaults unless set: stride 1, no padding, one group,
/// with a bias.
#[derive(Clone, Copy)]
pub(crate) struct Conv {
    cin: i64,
    cout: i64,
    kernel: [i64; 2],
    stride: [i64; 2],
    padding: [i64; 2],
    groups: i64,
    bias: bool,
}

impl Conv {
    pub(crate) fn new(cin: i64, cout: i64, kernel: i64) -> Conv {
        Conv::rect(cin, cout, [kernel, kernel])
    }

    pub(crate) fn rect(cin: i64, cout: i64, kernel: [i64; 2]) -> Conv {
        Conv {
            cin,
            cout,
            kernel,
            stride: [1, 1],
            padding: [0, 0],
            groups: 1,
            bias: true,
        }
    }

    pub(crate) fn stride(self, s: i64) -> Conv {
        Conv {
            stride: [s, s],
            ..self
        }
    }

    pub(crate) fn padding(self, p: i64) -> Conv {
        Conv {
            padding: [p, p],
            ..self
        }
    }

    pub(crate) fn padding_hw(self, padding: [i64; 2]) -> Conv {
        Conv { padding, ..self }
    }

    /// PyTorch's `(kernel - 1) / 2`: keeps the resolution at stride 1 for odd kernels.
    pub(crate) fn same_padding(self) -> Conv {
        Conv {
            padding: [(self.kernel[0] - 1) / 2, (self.kernel[1] - 1) / 2],
            ..self
        }
    }

    pub(crate) fn out_channels(self) -> i64 {
        self.cout
    }

    pub(crate) fn groups(self, groups: i64) -> Conv {
        Conv { groups, ..self }
    }

    pub(crate) fn no_bias(self) -> Conv {
        Conv {
            bias: false,
            ..self
        }
    }
}

/// A pooling window, PyTorch's defaults unless set: stride = kernel, no padding, floor mode.
#[derive(Clone, Copy)]
pub(crate) struct Pool(Pool2d);

impl Pool {
    pub(crate) fn new(kernel: i64, stride: i64) -> Pool {
        Pool(Pool2d {
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: [0, 0],
            ceil_mode: false,
        })
    }

    pub(crate) fn padding(self, p: i64) -> Pool {
        Pool(Pool2d {
            padding: [p, p],
            ..self.0
        })
    }

    pub(crate) fn ceil_mode(self) -> Pool {
        Pool(Pool2d {
            ceil_mode: true,
            ..self.0
        })
    }
}

/// Reading never-written memory maps the kernel's shared zero page, one 4 KiB page fault at a time:
/// VGG-16's 553 MB of weights would cost ~135,000 faults in the forward pass. Asking for transparent
/// huge pages lets the kernel map its 2 MiB huge zero page instead (when THP is in `madvise` or
/// `always` mode), a few hundred faults, still without resident memory. Purely a hint: if the kernel
/// refuses, nothing changes but the speed.
mod huge_pages {
    use tch::Tensor;

    #[cfg(target_os = "linux")]
    pub(super) fn advise(t: &Tensor, bytes: usize) {
        unsafe extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        const MADV_HUGEPAGE: i32 = 14;
        const PAGE: usize = 4096;
        let start = t.data_ptr() as usize;
        let first_page = start.next_multiple_of(PAGE);
        let end = (start + bytes) / PAGE * PAGE;
        if end > first_page {
            // SAFETY: the range lies inside the tensor's own allocation, and MADV_HUGEPAGE only changes
            // how the kernel backs those pages, never their contents or the mapping's validity.
            unsafe {
                madvise(
                    first_page as *mut std::ffi::c_void,
                    end - first_page,
                    MADV_HUGEPAGE,
                );
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn advise(_t: &Tensor, _bytes: usize) {}
}
