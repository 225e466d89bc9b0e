//! The device a plan is for, and the two things that change with it: what a dropout mask costs, and
//! the memory the framework's runtime itself takes, which no model accounts for.
//!
//! - On a GPU, PyTorch's fused dropout keeps a 1-byte (`bool`) mask per element; the CUDA context,
//!   cuDNN/cuBLAS workspaces and the caching allocator's reserve are named as not included, since they
//!   depend on the driver, the card and the allocator's history rather than on the model.
//! - On a CPU, dropout keeps its float mask (the multiply path: the element width, 4 bytes in float32),
//!   and the process's runtime at its first training step (oneDNN's primitives and scratch, the autograd
//!   engine's thread, malloc arenas) is a near-constant that `models/measure_training.py --baseline`
//!   measures: a CPU plan adds it as its own line, so its peak is comparable with the process's.

/// Anonymous memory a CPU PyTorch process takes at its first training step whatever the model: the
/// peak of a `Linear(1, 1)` Adam step, measured with `models/measure_training.py --baseline` (torch
/// 2.13.0, 2 threads; 78,815,232 B at batch 1 and 78,872,576 B at batch 8: BENCHMARKS.md).
pub const CPU_RUNTIME_BYTES: u64 = 78_815_232;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Gpu,
    Cpu,
}

impl Device {
    /// Bytes a dropout mask keeps per element when activations are `activation_bytes` wide.
    pub fn mask_bytes(self, activation_bytes: u64) -> u64 {
        match self {
            Device::Gpu => 1,
            Device::Cpu => activation_bytes,
        }
    }

    /// The runtime's own memory the plan adds (0 where it is named as not included instead).
    pub fn runtime_bytes(self) -> u64 {
        match self {
            Device::Gpu => 0,
            Device::Cpu => CPU_RUNTIME_BYTES,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Device::Gpu => "gpu",
            Device::Cpu => "cpu",
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gpu" | "cuda" => Ok(Device::Gpu),
            "cpu" => Ok(Device::Cpu),
            _ => Err(format!("unknown device '{s}' (use gpu or cpu)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_keeps_element_wide_masks_and_its_runtime() {
        assert_eq!(Device::Gpu.mask_bytes(4), 1);
        assert_eq!(Device::Cpu.mask_bytes(4), 4);
        assert_eq!(Device::Cpu.mask_bytes(2), 2);
        assert_eq!(Device::Gpu.runtime_bytes(), 0);
        assert_eq!(Device::Cpu.runtime_bytes(), 78_815_232);
        assert_eq!("CUDA".parse::<Device>(), Ok(Device::Gpu));
        assert!("tpu".parse::<Device>().is_err());
    }
}
