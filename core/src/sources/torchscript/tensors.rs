//! Tensors as PyTorch pickles them: a call to one of `torch._utils`' rebuild functions whose first argument
//! is a storage given as a persistent id `('storage', <storage class>, key, location, numel)`.
//! Read here into shape, dtype, requires_grad and the storage view that identifies shared tensors. The
//! storage bytes (`data/<key>`) are never opened.

use super::pickle::{Object, Pickle, Value};
use crate::dtype::DType;
use std::rc::Rc;

/// The most dimensions a tensor may have (PyTorch's own limit is 64).
const MAX_DIMS: usize = 64;

/// The longest storage key accepted. PyTorch writes decimal numbers; every tensor's key is hashed to find
/// tied tensors, so a megabyte key shared by a million tensors must not be.
const MAX_STORAGE_KEY_BYTES: usize = 256;

/// Which storage region a tensor views: two tensors with equal keys are one tensor, tied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StorageView {
    /// `None` for tensors without storage (meta tensors): those are never tied.
    pub storage: Option<Rc<str>>,
    pub offset: u64,
    pub shape: Vec<u64>,
    pub stride: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub shape: Vec<u64>,
    pub dtype: DType,
    pub requires_grad: bool,
    pub view: StorageView,
}

/// Reads `value` as a tensor. `Ok(None)` when it is not a tensor at all; an error when it is a tensor
/// rebuild call whose arguments are malformed or of a kind this reader does not know.
pub fn tensor(p: &Pickle, value: &Value) -> Result<Option<TensorInfo>, String> {
    tensor_at(p, value, 0)
}

fn tensor_at(p: &Pickle, value: &Value, depth: usize) -> Result<Option<TensorInfo>, String> {
    let Some((func, args)) = p.call(value) else {
        return Ok(None);
    };
    if !is_rebuild(func) {
        return Ok(None);
    }
    let args = p
        .sequence(args)
        .ok_or_else(|| format!("{}.{} without an argument tuple", func.0, func.1))?;
    rebuild(p, func, args, depth)
}

/// Whether a global is one of the functions PyTorch rebuilds tensors with.
fn is_rebuild((module, name): (&str, &str)) -> bool {
    (module == "torch._utils" && name.starts_with("_rebuild_"))
        || (module, name) == ("torch._tensor", "_rebuild_from_type_v2")
}

/// The one dispatch on rebuild functions, for calls pickled as `REDUCE` and for the inner call of
/// `_rebuild_from_type_v2`, whose function and arguments are stored apart.
fn rebuild(
    p: &Pickle,
    (module, name): (&str, &str),
    a: &[Value],
    depth: usize,
) -> Result<Option<TensorInfo>, String> {
    // Wrappers nest rebuild calls; a handful of levels is all PyTorch ever writes.
    if depth > 4 {
        return Err("tensor rebuild calls nested too deeply".into());
    }
    if !is_rebuild((module, name)) {
        return Err(format!(
            "tensor subclasses rebuilt by {module}.{name} are not supported"
        ));
    }
    match name {
        "_rebuild_tensor_v2" | "_rebuild_tensor" | "_rebuild_qtensor" => {
            let requires_grad = match name {
                "_rebuild_tensor_v2" => a.get(4).and_then(Value::as_bool).unwrap_or(false),
                "_rebuild_qtensor" => a.get(5).and_then(Value::as_bool).unwrap_or(false),
                _ => false,
            };
            from_storage(p, a, None, requires_grad).map(Some)
        }
        "_rebuild_tensor_v3" => {
            // The storage is untyped bytes: the dtype argument is the only word on the element type.
            let dtype = torch_dtype(p, a.get(6))?;
            let requires_grad = a.get(4).and_then(Value::as_bool).unwrap_or(false);
            from_storage(p, a, Some(dtype), requires_grad).map(Some)
        }
        "_rebuild_parameter" | "_rebuild_parameter_with_state" => {
            let data = a.first().ok_or("_rebuild_parameter without data")?;
            let mut t = tensor_at(p, data, depth + 1)?
                .ok_or("_rebuild_parameter whose data is not a tensor")?;
            t.requires_grad = a.get(1).and_then(Value::as_bool).unwrap_or(true);
            Ok(Some(t))
        }
        "_rebuild_from_type_v2" => {
            // (func, subclass, args, state): the tensor is what `func(*args)` rebuilds.
            let (Some(func), Some(inner)) = (a.first(), a.get(2)) else {
                return Err("_rebuild_from_type_v2 with too few arguments".into());
            };
            let Some(func) = p.global(func) else {
                return Err("_rebuild_from_type_v2 with a non-global function".into());
            };
            let inner = p
                .sequence(inner)
                .ok_or("_rebuild_from_type_v2 without an argument tuple")?;
            rebuild(p, func, inner, depth + 1)
        }
        "_rebuild_meta_tensor_no_storage" => {
            // (dtype, size, stride, requires_grad)
            let dtype = torch_dtype(p, a.first())?;
            let shape = dims(p, a.get(1))?;
            let stride = strides(p, a.get(2))?;
            let requires_grad = a.get(3).and_then(Value::as_bool).unwrap_or(false);
            let view = StorageView {
                storage: None,
                offset: 0,
                shape: shape.clone(),
                stride,
            };
            Ok(Some(TensorInfo {
                shape,
                dtype,
                requires_grad,
                view,
            }))
        }
        other => Err(format!(
            "tensors rebuilt by {module}.{other} are not supported"
        )),
    }
}

/// `(storage, storage_offset, size, stride, …)` with the storage a persistent id.
fn from_storage(
    p: &Pickle,
    args: &[Value],
    dtype_override: Option<DType>,
    requires_grad: bool,
) -> Result<TensorInfo, String> {
    let storage = args.first().ok_or("tensor without a storage")?;
    let Some(Object::Persistent(pid)) = p.object(storage) else {
        return Err("tensor whose storage is not a persistent id".into());
    };
    let pid = p.sequence(pid).ok_or("storage id is not a tuple")?;
    if pid.first().and_then(Value::as_str) != Some("storage") {
        return Err("persistent id is not a ('storage', …) tuple".into());
    }
    let class = pid
        .get(1)
        .and_then(|c| p.global(c))
        .ok_or("storage without a storage class")?;
    let key: Rc<str> = match pid.get(2) {
        Some(Value::Str(s)) => s.clone(),
        Some(Value::Int(i)) => Rc::from(i.to_string().as_str()),
        _ => return Err("storage without a key".into()),
    };
    if key.len() > MAX_STORAGE_KEY_BYTES {
        return Err(format!(
            "storage key of {} bytes (at most {MAX_STORAGE_KEY_BYTES})",
            key.len()
        ));
    }
    let dtype = match dtype_override {
        Some(d) => d,
        None => storage_dtype(class)
            .ok_or_else(|| format!("unknown storage class {}.{}", class.0, class.1))?,
    };
    let offset = match args.get(1).and_then(Value::as_int) {
        Some(o) if o >= 0 => o as u64,
        _ => return Err("tensor with a missing or negative storage offset".into()),
    };
    let shape = dims(p, args.get(2))?;
    let stride = strides(p, args.get(3))?;
    if stride.len() != shape.len() {
        return Err(format!(
            "tensor with {} sizes but {} strides",
            shape.len(),
            stride.len()
        ));
    }
    let view = StorageView {
        storage: Some(key),
        offset,
        shape: shape.clone(),
        stride,
    };
    Ok(TensorInfo {
        shape,
        dtype,
        requires_grad,
        view,
    })
}

fn storage_dtype((module, name): (&str, &str)) -> Option<DType> {
    if module != "torch" {
        return None;
    }
    // An untyped storage holds bytes; the dtype then comes from `_rebuild_tensor_v3`.
    if name == "UntypedStorage" {
        Some(DType::UInt8)
    } else {
        DType::from_storage_class(name)
    }
}

/// A `torch.<dtype>` global, as `_rebuild_tensor_v3` and meta tensors carry it. An unknown one is an
/// error: the storage is untyped, so guessing would misstate every byte count.
fn torch_dtype(p: &Pickle, v: Option<&Value>) -> Result<DType, String> {
    let Some((module, name)) = v.and_then(|v| p.global(v)) else {
        return Err("tensor without a torch dtype".into());
    };
    let known = if module == "torch" {
        dtype_named(name)
    } else {
        None
    };
    known.ok_or_else(|| format!("tensor of dtype {module}.{name}, which tchinfo does not know"))
}

fn dtype_named(name: &str) -> Option<DType> {
    use DType::*;
    Some(match name {
        "float64" | "double" => Float64,
        "float32" | "float" => Float32,
        "float16" | "half" => Float16,
        "bfloat16" => BFloat16,
        "float8_e4m3fn" => Float8E4M3,
        "float8_e5m2" => Float8E5M2,
        "float8_e4m3fnuz" => Float8E4M3Fnuz,
        "float8_e5m2fnuz" => Float8E5M2Fnuz,
        "float8_e8m0fnu" => Float8E8M0,
        "int64" | "long" => Int64,
        "int32" | "int" => Int32,
        "int16" | "short" => Int16,
        "int8" => Int8,
        "uint8" => UInt8,
        "uint16" => UInt16,
        "uint32" => UInt32,
        "uint64" => UInt64,
        "bool" => Bool,
        "complex32" | "chalf" => ComplexHalf,
        "complex64" | "cfloat" => Complex64,
        "complex128" | "cdouble" => Complex128,
        "qint8" => QInt8,
        "quint8" => QUInt8,
        "qint32" => QInt32,
        _ => return None,
    })
}

/// A size tuple: non-negative dimensions whose product fits in an int64.
fn dims(p: &Pickle, v: Option<&Value>) -> Result<Vec<u64>, String> {
    let items = v
        .and_then(|v| p.sequence(v))
        .ok_or("tensor without a size tuple")?;
    if items.len() > MAX_DIMS {
        return Err(format!(
            "tensor with {} dimensions (at most {MAX_DIMS})",
            items.len()
        ));
    }
    let mut shape = Vec::with_capacity(items.len());
    let mut numel: u64 = 1;
    for d in items {
        let d = match d.as_int() {
            Some(d) if d >= 0 => d as u64,
            _ => return Err("tensor size with a negative or non-integer dimension".into()),
        };
        // PyTorch counts elements in int64: a larger product is no tensor it could have saved.
        numel = numel
            .checked_mul(d)
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or("tensor whose element count exceeds 2^63 - 1")?;
        shape.push(d);
    }
    Ok(shape)
}

fn strides(p: &Pickle, v: Option<&Value>) -> Result<Vec<i64>, String> {
    let items = v
        .and_then(|v| p.sequence(v))
        .ok_or("tensor without a stride tuple")?;
    if items.len() > MAX_DIMS {
        return Err(format!(
            "tensor with {} strides (at most {MAX_DIMS})",
            items.len()
        ));
    }
    items
        .iter()
        .map(|s| {
            s.as_int()
                .ok_or_else(|| "tensor stride that is not an integer".to_string())
        })
        .collect()
}
