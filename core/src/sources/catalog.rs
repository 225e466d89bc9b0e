//! The built-in zoo's catalogue: every built-in architecture's name, family, default input and
//! parameter count, as data. It needs no libtorch, so `tchinfo list` answers without starting it or
//! building a model. The libtorch side (`tchinfo::sources::builtin`) builds each entry by name; its
//! tests build every entry and check the count here against the real build and against torchvision.
//!
//! Names are torchvision's (`torchvision.models.<name>()` with default arguments), except the
//! inference GoogLeNet and Inception v3 (`aux_logits=False`) and their `_aux` names for torchvision's
//! defaults. Entries of one family sit together, in the order `list` shows them.

/// One built-in architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    /// torchvision's name: `vgg16`, `vit_b_16`.
    pub name: &'static str,
    /// `VGG`, `ResNet`, `ViT` …: the rows `list` groups.
    pub family: &'static str,
    /// C, H, W a plain summary runs at: the architecture's own input size — the one it is built
    /// for (ViT, MaxViT) or the crop its torchvision weights were trained and evaluated at
    /// (EfficientNet-B1 240 … B7 600, EfficientNet V2, Swin V2, Inception v3).
    pub default_input: [i64; 3],
    /// Parameters at 1000 classes (buffers not included).
    pub params: u64,
}

const fn builtin(name: &'static str, family: &'static str, size: i64, params: u64) -> Builtin {
    Builtin {
        name,
        family,
        default_input: [3, size, size],
        params,
    }
}

/// Every built-in, grouped by family.
pub static CATALOG: &[Builtin] = &[
    builtin("vgg11", "VGG", 224, 132_863_336),
    builtin("vgg13", "VGG", 224, 133_047_848),
    builtin("vgg16", "VGG", 224, 138_357_544),
    builtin("vgg19", "VGG", 224, 143_667_240),
    builtin("vgg11_bn", "VGG", 224, 132_868_840),
    builtin("vgg13_bn", "VGG", 224, 133_053_736),
    builtin("vgg16_bn", "VGG", 224, 138_365_992),
    builtin("vgg19_bn", "VGG", 224, 143_678_248),
    builtin("alexnet", "AlexNet", 224, 61_100_840),
    builtin("resnet18", "ResNet", 224, 11_689_512),
    builtin("resnet34", "ResNet", 224, 21_797_672),
    builtin("resnet50", "ResNet", 224, 25_557_032),
    builtin("resnet101", "ResNet", 224, 44_549_160),
    builtin("resnet152", "ResNet", 224, 60_192_808),
    builtin("resnext50_32x4d", "ResNeXt", 224, 25_028_904),
    builtin("resnext101_32x8d", "ResNeXt", 224, 88_791_336),
    builtin("resnext101_64x4d", "ResNeXt", 224, 83_455_272),
    builtin("wide_resnet50_2", "Wide ResNet", 224, 68_883_240),
    builtin("wide_resnet101_2", "Wide ResNet", 224, 126_886_696),
    builtin("densenet121", "DenseNet", 224, 7_978_856),
    builtin("squeezenet1_0", "SqueezeNet", 224, 1_248_424),
    builtin("squeezenet1_1", "SqueezeNet", 224, 1_235_496),
    builtin("googlenet", "GoogLeNet", 224, 6_624_904),
    builtin("googlenet_aux", "GoogLeNet", 224, 13_004_888),
    builtin("inception_v3", "Inception", 299, 23_834_568),
    builtin("inception_v3_aux", "Inception", 299, 27_161_264),
    builtin("mobilenet_v2", "MobileNet", 224, 3_504_872),
    builtin("mobilenet_v3_small", "MobileNet", 224, 2_542_856),
    builtin("mobilenet_v3_large", "MobileNet", 224, 5_483_032),
    builtin("shufflenet_v2_x0_5", "ShuffleNet V2", 224, 1_366_792),
    builtin("shufflenet_v2_x1_0", "ShuffleNet V2", 224, 2_278_604),
    builtin("shufflenet_v2_x1_5", "ShuffleNet V2", 224, 3_503_624),
    builtin("shufflenet_v2_x2_0", "ShuffleNet V2", 224, 7_393_996),
    builtin("mnasnet0_5", "MNASNet", 224, 2_218_512),
    builtin("mnasnet0_75", "MNASNet", 224, 3_170_208),
    builtin("mnasnet1_0", "MNASNet", 224, 4_383_312),
    builtin("mnasnet1_3", "MNASNet", 224, 6_282_256),
    builtin("efficientnet_b0", "EfficientNet", 224, 5_288_548),
    builtin("efficientnet_b1", "EfficientNet", 240, 7_794_184),
    builtin("efficientnet_b2", "EfficientNet", 288, 9_109_994),
    builtin("efficientnet_b3", "EfficientNet", 300, 12_233_232),
    builtin("efficientnet_b4", "EfficientNet", 380, 19_341_616),
    builtin("efficientnet_b5", "EfficientNet", 456, 30_389_784),
    builtin("efficientnet_b6", "EfficientNet", 528, 43_040_704),
    builtin("efficientnet_b7", "EfficientNet", 600, 66_347_960),
    builtin("efficientnet_v2_s", "EfficientNet V2", 384, 21_458_488),
    builtin("efficientnet_v2_m", "EfficientNet V2", 480, 54_139_356),
    builtin("efficientnet_v2_l", "EfficientNet V2", 480, 118_515_272),
    builtin("regnet_y_400mf", "RegNet", 224, 4_344_144),
    builtin("regnet_y_800mf", "RegNet", 224, 6_432_512),
    builtin("regnet_y_1_6gf", "RegNet", 224, 11_202_430),
    builtin("regnet_y_3_2gf", "RegNet", 224, 19_436_338),
    builtin("regnet_y_8gf", "RegNet", 224, 39_381_472),
    builtin("regnet_y_16gf", "RegNet", 224, 83_590_140),
    builtin("regnet_y_32gf", "RegNet", 224, 145_046_770),
    builtin("regnet_y_128gf", "RegNet", 224, 644_812_894),
    builtin("regnet_x_400mf", "RegNet", 224, 5_495_976),
    builtin("regnet_x_800mf", "RegNet", 224, 7_259_656),
    builtin("regnet_x_1_6gf", "RegNet", 224, 9_190_136),
    builtin("regnet_x_3_2gf", "RegNet", 224, 15_296_552),
    builtin("regnet_x_8gf", "RegNet", 224, 39_572_648),
    builtin("regnet_x_16gf", "RegNet", 224, 54_278_536),
    builtin("regnet_x_32gf", "RegNet", 224, 107_811_560),
    builtin("convnext_tiny", "ConvNeXt", 224, 28_589_128),
    builtin("convnext_small", "ConvNeXt", 224, 50_223_688),
    builtin("convnext_base", "ConvNeXt", 224, 88_591_464),
    builtin("convnext_large", "ConvNeXt", 224, 197_767_336),
    builtin("vit_b_16", "ViT", 224, 86_567_656),
    builtin("vit_b_32", "ViT", 224, 88_224_232),
    builtin("vit_l_16", "ViT", 224, 304_326_632),
    builtin("vit_h_14", "ViT", 224, 632_045_800),
    builtin("swin_t", "Swin", 224, 28_288_354),
    builtin("swin_s", "Swin", 224, 49_606_258),
    builtin("swin_b", "Swin", 224, 87_768_224),
    builtin("swin_v2_t", "Swin", 256, 28_351_570),
    builtin("maxvit_t", "MaxViT", 224, 30_919_624),
];

/// The entry called `name` (case does not matter).
pub fn find(name: &str) -> Option<&'static Builtin> {
    CATALOG.iter().find(|b| b.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_families_contiguous() {
        let mut seen_families: Vec<&str> = Vec::new();
        for (i, b) in CATALOG.iter().enumerate() {
            assert_eq!(find(b.name), Some(b), "{} is unique", b.name);
            if seen_families.last() != Some(&b.family) {
                assert!(
                    !seen_families.contains(&b.family),
                    "{}: family {} is split",
                    b.name,
                    b.family
                );
                seen_families.push(b.family);
            }
            assert!(b.params > 0, "entry {i}");
        }
    }
}
