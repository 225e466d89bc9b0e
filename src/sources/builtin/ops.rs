//! Functional operations written inside torchvision forwards (`out + identity`, `torch.cat`,
//! `F.relu`, `torch.flatten` …). They are not modules: no row of their own, but their inputs are
//! recorded as consumed, so the data flow knows a tensor went somewhere other than the next module.
//! Errors name the module whose forward ran the operation.

use super::module::Module;
use super::recorder::{Act, ForwardError, Recorder};
use tch::{TchError, Tensor};

/// Any functional operation on `inputs`, computed by `f`, in `m`'s forward.
pub(crate) fn apply(
    m: &Module,
    rec: &mut Recorder,
    inputs: &[&Act],
    f: impl FnOnce() -> Result<Tensor, TchError>,
) -> Result<Act, ForwardError> {
    rec.consume_by_operation(inputs);
    f().map(Act::free).map_err(|e| m.error(e))
}

pub(crate) fn add(m: &Module, rec: &mut Recorder, a: &Act, b: &Act) -> Result<Act, ForwardError> {
    apply(m, rec, &[a, b], || a.t.f_add(&b.t))
}

pub(crate) fn mul(m: &Module, rec: &mut Recorder, a: &Act, b: &Act) -> Result<Act, ForwardError> {
    apply(m, rec, &[a, b], || a.t.f_mul(&b.t))
}

/// `torch.cat(xs, 1)`: along channels.
pub(crate) fn cat(m: &Module, rec: &mut Recorder, xs: &[Act]) -> Result<Act, ForwardError> {
    let refs: Vec<&Act> = xs.iter().collect();
    let tensors: Vec<&Tensor> = xs.iter().map(|x| &x.t).collect();
    apply(m, rec, &refs, || Tensor::f_cat(&tensors, 1))
}

pub(crate) fn relu(m: &Module, rec: &mut Recorder, x: &Act) -> Result<Act, ForwardError> {
    apply(m, rec, &[x], || x.t.f_relu())
}

/// `torch.flatten(x, 1)`.
pub(crate) fn flatten(m: &Module, rec: &mut Recorder, x: &Act) -> Result<Act, ForwardError> {
    apply(m, rec, &[x], || x.t.f_flatten(1, -1))
}

pub(crate) fn adaptive_avg_pool2d(
    m: &Module,
    rec: &mut Recorder,
    x: &Act,
    size: [i64; 2],
) -> Result<Act, ForwardError> {
    apply(m, rec, &[x], || x.t.f_adaptive_avg_pool2d(size))
}

/// `F.max_pool2d(x, kernel, stride)`.
pub(crate) fn max_pool2d(
    m: &Module,
    rec: &mut Recorder,
    x: &Act,
    kernel: i64,
    stride: i64,
) -> Result<Act, ForwardError> {
    apply(m, rec, &[x], || {
        x.t.f_max_pool2d([kernel, kernel], [stride, stride], [0, 0], [1, 1], false)
    })
}

/// `F.avg_pool2d(x, kernel, stride, padding)` (counting the padding, PyTorch's default).
pub(crate) fn avg_pool2d(
    m: &Module,
    rec: &mut Recorder,
    x: &Act,
    kernel: i64,
    stride: i64,
    padding: i64,
) -> Result<Act, ForwardError> {
    apply(m, rec, &[x], || {
        x.t.f_avg_pool2d(
            [kernel, kernel],
            [stride, stride],
            [padding, padding],
            false,
            true,
            None,
        )
    })
}
