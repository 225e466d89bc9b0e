//! The layers Hugging Face `transformers` builds its language models from, as [`Scope`] constructors
//! (the torchvision ones are in `scope`): embeddings, `Conv1D`, RMSNorm, the activations a config names,
//! a head tied to an embedding, and modules called with several inputs or outputs.

use super::module::{
    Conv1D, Embedding, GeluApproximation, Layer, Linear, Module, MultiForward, Own, RMSNorm,
};
use super::scope::Scope;
use tch::{TchError, Tensor};
use tchinfo_core::architectures::Activation;

impl Scope<'_> {
    /// `nn.Embedding(rows, dim)`.
    pub(crate) fn embedding(&self, rows: i64, dim: i64) -> Result<Module, TchError> {
        let weight = self.own_param("weight", &[rows, dim])?.tensor;
        Ok(self.module(
            "torch.nn.modules.sparse.Embedding",
            Layer::Embedding(Embedding { weight }),
            vec![],
        ))
    }

    /// transformers' `Conv1D(out, in)`: weight (in, out) and bias (out).
    pub(crate) fn conv1d_transposed(
        &self,
        in_features: i64,
        out_features: i64,
    ) -> Result<Module, TchError> {
        let weight = self
            .own_param("weight", &[in_features, out_features])?
            .tensor;
        let bias = self.own_param("bias", &[out_features])?.tensor;
        Ok(self.module(
            "transformers.pytorch_utils.Conv1D",
            Layer::Conv1D(Conv1D { weight, bias }),
            vec![],
        ))
    }

    /// `nn.Linear(in, out, bias)`.
    pub(crate) fn linear_bias(
        &self,
        in_features: i64,
        out_features: i64,
        bias: bool,
    ) -> Result<Module, TchError> {
        if bias {
            self.linear(in_features, out_features)
        } else {
            self.linear_no_bias(in_features, out_features)
        }
    }

    /// A bias-free `nn.Linear` whose weight is `weight` itself (a head tied to the token embedding).
    pub(crate) fn linear_tied(&self, weight: &Tensor) -> Module {
        let weight = self.tied_param("weight", weight);
        self.module(
            "torch.nn.modules.linear.Linear",
            Layer::Linear(Linear { weight, bias: None }),
            vec![],
        )
    }

    /// An RMSNorm of class `class` (`…LlamaRMSNorm`) over `dim` features.
    pub(crate) fn rms_norm(
        &self,
        class: &'static str,
        dim: i64,
        eps: f64,
    ) -> Result<Module, TchError> {
        let weight = self.own_param("weight", &[dim])?.tensor;
        Ok(self.module(class, Layer::RMSNorm(RMSNorm { weight, eps }), vec![]))
    }

    /// The module `ACT2FN[name]` builds for a config's activation.
    pub(crate) fn activation(&self, a: Activation) -> Module {
        let layer = match a {
            Activation::Gelu => Layer::Gelu(GeluApproximation::None),
            // NewGELUActivation's formula is the tanh approximation, written out.
            Activation::GeluNew | Activation::GeluPytorchTanh => {
                Layer::Gelu(GeluApproximation::Tanh)
            }
            Activation::Relu => Layer::ReLU,
            Activation::Silu | Activation::Swish => Layer::SiLU,
        };
        self.module(a.class(), layer, vec![])
    }

    /// A module called with several inputs or returning several outputs (see [`MultiForward`]), with
    /// tensors of its own and children.
    pub(crate) fn multi(
        &self,
        class: &'static str,
        own: Vec<Own>,
        forward: MultiForward,
        children: Vec<Module>,
    ) -> Module {
        self.module_owning(class, Layer::Multi(forward), own, children)
    }
}
