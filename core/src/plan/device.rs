//! The device a plan is for, and what changes with it: the width of a dropout mask, and the attention
//! kernel PyTorch takes when none is asked for.
//!
//! - On a GPU, PyTorch's fused dropout keeps a 1-byte (`bool`) mask per element, and sdpa's flash and
//!   memory-efficient kernels drop out inside the kernel (no s² tensor kept). The CUDA context,
//!   cuDNN/cuBLAS workspaces and the caching allocator's reserve are named as not included: they depend
//!   on the driver, the card and the allocator's history rather than on the model.
//! - On a CPU, dropout keeps its mask as wide as the activation (the multiply path), and sdpa takes its
//!   math kernel when attention drops out, keeping the softmax and its mask.
//!
//! A process's one-time costs of its first training step (the Python modules `torch.optim` imports on
//! first use, tens of MiB; the autograd engine's threads) are the program's, not the model's, and are
//! not in any plan: `models/measure_training.py` warms them up before reading its baseline.

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
    fn a_cpu_keeps_element_wide_masks() {
        assert_eq!(Device::Gpu.mask_bytes(4), 1);
        assert_eq!(Device::Cpu.mask_bytes(4), 4);
        assert_eq!(Device::Cpu.mask_bytes(2), 2);
        assert_eq!("CUDA".parse::<Device>(), Ok(Device::Gpu));
        assert!("tpu".parse::<Device>().is_err());
    }
}
