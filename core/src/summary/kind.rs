//! Layer kinds: where parameters sit (fully connected, convolution, normalization, embedding …).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerKind {
    Linear,
    Convolution,
    Normalization,
    Embedding,
    Attention,
    Recurrent,
    /// Layers with no parameters of their own that only hold children (Sequential, a ResNet block …).
    Container,
    Other,
}

impl LayerKind {
    /// The order reports list kinds in.
    pub const ALL: [LayerKind; 8] = [
        LayerKind::Linear,
        LayerKind::Convolution,
        LayerKind::Normalization,
        LayerKind::Embedding,
        LayerKind::Attention,
        LayerKind::Recurrent,
        LayerKind::Other,
        LayerKind::Container,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Linear => "Linear",
            LayerKind::Convolution => "Convolution",
            LayerKind::Normalization => "Normalization",
            LayerKind::Embedding => "Embedding",
            LayerKind::Attention => "Attention",
            LayerKind::Recurrent => "Recurrent",
            LayerKind::Container => "Container",
            LayerKind::Other => "Other",
        }
    }

    /// The kind of a PyTorch module class (`Conv2d`, `BatchNorm2d`, `NonDynamicallyQuantizableLinear` …).
    /// Unknown classes are `Other`; the caller decides whether a parameter-free module is a `Container`.
    pub fn from_type_name(type_name: &str) -> LayerKind {
        let t = type_name;
        // transformers' Conv1D (GPT-2's projections) is a Linear with its weight stored (in, out);
        // a mixture of experts holds stacked Linear weights, its router one Linear.
        if t == "Conv1D" || t.ends_with("Experts") || t.ends_with("TopKRouter") {
            LayerKind::Linear
        } else if t.starts_with("Conv")
            || t.starts_with("LazyConv")
            || t.starts_with("QuantizedConv")
        {
            LayerKind::Convolution
        } else if t.ends_with("Linear") || t == "Bilinear" || t == "LazyLinear" {
            LayerKind::Linear
        } else if t.contains("Norm") {
            LayerKind::Normalization
        } else if t.starts_with("Embedding") {
            LayerKind::Embedding
        } else if t.contains("Attention") {
            LayerKind::Attention
        } else if matches!(
            t,
            "LSTM" | "GRU" | "RNN" | "LSTMCell" | "GRUCell" | "RNNCell"
        ) {
            LayerKind::Recurrent
        } else {
            LayerKind::Other
        }
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_type_names() {
        assert_eq!(LayerKind::from_type_name("Conv2d"), LayerKind::Convolution);
        assert_eq!(
            LayerKind::from_type_name("ConvTranspose2d"),
            LayerKind::Convolution
        );
        assert_eq!(LayerKind::from_type_name("Linear"), LayerKind::Linear);
        // torch's Conv1d convolves; transformers' Conv1D (GPT-2) is a Linear.
        assert_eq!(LayerKind::from_type_name("Conv1d"), LayerKind::Convolution);
        assert_eq!(LayerKind::from_type_name("Conv1D"), LayerKind::Linear);
        assert_eq!(
            LayerKind::from_type_name("MixtralExperts"),
            LayerKind::Linear
        );
        assert_eq!(
            LayerKind::from_type_name("NonDynamicallyQuantizableLinear"),
            LayerKind::Linear
        );
        assert_eq!(
            LayerKind::from_type_name("BatchNorm2d"),
            LayerKind::Normalization
        );
        assert_eq!(
            LayerKind::from_type_name("LayerNorm"),
            LayerKind::Normalization
        );
        assert_eq!(LayerKind::from_type_name("Embedding"), LayerKind::Embedding);
        assert_eq!(
            LayerKind::from_type_name("MultiheadAttention"),
            LayerKind::Attention
        );
        assert_eq!(LayerKind::from_type_name("ReLU"), LayerKind::Other);
        assert_eq!(LayerKind::from_type_name("Conv1D"), LayerKind::Linear);
        assert_eq!(LayerKind::from_type_name("Conv1d"), LayerKind::Convolution);
        assert_eq!(
            LayerKind::from_type_name("MixtralExperts"),
            LayerKind::Linear
        );
        assert_eq!(
            LayerKind::from_type_name("RMSNorm"),
            LayerKind::Normalization
        );
    }
}
