//! How each built-in architecture is built: its constructor and what the reader should know about its
//! summary, by name. Names, families, default inputs and parameter counts are the catalogue's
//! (`tchinfo_core::sources::catalog`), which `tchinfo list` reads without building anything; every
//! catalogue entry has exactly one entry here, and the tests check each count against a real build.

use super::module::Module;
use super::scope::Scope;
use super::{
    alexnet, convnext, densenet, efficientnet, googlenet, inception, maxvit, mnasnet, mobilenet_v2,
    mobilenet_v3, regnet, resnet, shufflenet_v2, squeezenet, swin, vgg, vit,
};
use crate::sources::catalog::{self, Builtin};
use tch::TchError;

pub(super) type Build = for<'a> fn(&Scope<'a>, i64) -> Result<Module, TchError>;

pub(super) struct Entry {
    pub(super) name: &'static str,
    pub(super) build: Build,
    /// What the reader should know about this model's summary (modules the eval forward never calls).
    pub(super) note: Option<&'static str>,
}

impl Entry {
    /// The catalogue's entry of the same name.
    pub(super) fn info(&self) -> &'static Builtin {
        catalog::find(self.name).expect("every registry entry is in the catalogue")
    }
}

const fn entry(name: &'static str, build: Build) -> Entry {
    Entry {
        name,
        build,
        note: None,
    }
}

fn resnet(
    s: &Scope,
    block: resnet::Block,
    layers: [usize; 4],
    groups: i64,
    width: i64,
    n: i64,
) -> Result<Module, TchError> {
    resnet::resnet(
        s,
        &resnet::Variant {
            block,
            layers,
            groups,
            width_per_group: width,
        },
        n,
    )
}

use resnet::Block::{Basic, Bottleneck};

pub(super) static ENTRIES: &[Entry] = &[
    entry("vgg11", |s, n| vgg::vgg(s, 11, false, n)),
    entry("vgg13", |s, n| vgg::vgg(s, 13, false, n)),
    entry("vgg16", |s, n| vgg::vgg(s, 16, false, n)),
    entry("vgg19", |s, n| vgg::vgg(s, 19, false, n)),
    entry("vgg11_bn", |s, n| vgg::vgg(s, 11, true, n)),
    entry("vgg13_bn", |s, n| vgg::vgg(s, 13, true, n)),
    entry("vgg16_bn", |s, n| vgg::vgg(s, 16, true, n)),
    entry("vgg19_bn", |s, n| vgg::vgg(s, 19, true, n)),
    entry("alexnet", alexnet::alexnet),
    entry("resnet18", |s, n| resnet(s, Basic, [2, 2, 2, 2], 1, 64, n)),
    entry("resnet34", |s, n| resnet(s, Basic, [3, 4, 6, 3], 1, 64, n)),
    entry("resnet50", |s, n| {
        resnet(s, Bottleneck, [3, 4, 6, 3], 1, 64, n)
    }),
    entry("resnet101", |s, n| {
        resnet(s, Bottleneck, [3, 4, 23, 3], 1, 64, n)
    }),
    entry("resnet152", |s, n| {
        resnet(s, Bottleneck, [3, 8, 36, 3], 1, 64, n)
    }),
    entry("resnext50_32x4d", |s, n| {
        resnet(s, Bottleneck, [3, 4, 6, 3], 32, 4, n)
    }),
    entry("resnext101_32x8d", |s, n| {
        resnet(s, Bottleneck, [3, 4, 23, 3], 32, 8, n)
    }),
    entry("resnext101_64x4d", |s, n| {
        resnet(s, Bottleneck, [3, 4, 23, 3], 64, 4, n)
    }),
    entry("wide_resnet50_2", |s, n| {
        resnet(s, Bottleneck, [3, 4, 6, 3], 1, 128, n)
    }),
    entry("wide_resnet101_2", |s, n| {
        resnet(s, Bottleneck, [3, 4, 23, 3], 1, 128, n)
    }),
    entry("densenet121", |s, n| {
        let v = densenet::Variant {
            growth_rate: 32,
            block_config: [6, 12, 24, 16],
            init_features: 64,
        };
        densenet::densenet(s, &v, n)
    }),
    entry("squeezenet1_0", |s, n| {
        squeezenet::squeezenet(s, squeezenet::Version::V1_0, n)
    }),
    entry("squeezenet1_1", |s, n| {
        squeezenet::squeezenet(s, squeezenet::Version::V1_1, n)
    }),
    // The plain names are the inference networks (aux_logits=False, the figures the project's issue
    // fixes: inception_v3 23,834,568); the _aux names are what torchvision's default constructors build.
    Entry {
        note: Some(
            "without the auxiliary classifiers aux1 and aux2, which run only in training \
             (aux_logits=False); googlenet_aux has them, as torchvision.models.googlenet() builds it",
        ),
        ..entry("googlenet", |s, n| googlenet::googlenet(s, n, false))
    },
    Entry {
        note: Some(
            "aux1 and aux2, the auxiliary classifiers (torchvision's default aux_logits=True), run only in \
             training: their parameters are counted, but they have no output shape, mult-adds \
             or activations",
        ),
        ..entry("googlenet_aux", |s, n| googlenet::googlenet(s, n, true))
    },
    Entry {
        note: Some(
            "without the auxiliary classifier AuxLogits, which runs only in training \
             (aux_logits=False); inception_v3_aux has it, as torchvision.models.inception_v3() builds it",
        ),
        ..entry("inception_v3", |s, n| inception::inception_v3(s, n, false))
    },
    Entry {
        note: Some(
            "AuxLogits, the auxiliary classifier (torchvision's default aux_logits=True), runs only in \
             training: its parameters are counted, but it has no output shape, mult-adds or \
             activations",
        ),
        ..entry("inception_v3_aux", |s, n| {
            inception::inception_v3(s, n, true)
        })
    },
    entry("mobilenet_v2", mobilenet_v2::mobilenet_v2),
    entry("mobilenet_v3_small", |s, n| {
        mobilenet_v3::mobilenet_v3(s, mobilenet_v3::SMALL, n)
    }),
    entry("mobilenet_v3_large", |s, n| {
        mobilenet_v3::mobilenet_v3(s, mobilenet_v3::LARGE, n)
    }),
    entry("shufflenet_v2_x0_5", |s, n| {
        shufflenet_v2::shufflenet_v2(s, shufflenet_v2::X0_5, n)
    }),
    entry("shufflenet_v2_x1_0", |s, n| {
        shufflenet_v2::shufflenet_v2(s, shufflenet_v2::X1_0, n)
    }),
    entry("shufflenet_v2_x1_5", |s, n| {
        shufflenet_v2::shufflenet_v2(s, shufflenet_v2::X1_5, n)
    }),
    entry("shufflenet_v2_x2_0", |s, n| {
        shufflenet_v2::shufflenet_v2(s, shufflenet_v2::X2_0, n)
    }),
    entry("mnasnet0_5", |s, n| mnasnet::mnasnet(s, 0.5, n)),
    entry("mnasnet0_75", |s, n| mnasnet::mnasnet(s, 0.75, n)),
    entry("mnasnet1_0", |s, n| mnasnet::mnasnet(s, 1.0, n)),
    entry("mnasnet1_3", |s, n| mnasnet::mnasnet(s, 1.3, n)),
    entry("efficientnet_b0", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v1(1.0, 1.0, 1e-5), n)
    }),
    entry("efficientnet_b1", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v1(1.0, 1.1, 1e-5), n)
    }),
    entry("efficientnet_b2", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v1(1.1, 1.2, 1e-5), n)
    }),
    entry("efficientnet_b3", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v1(1.2, 1.4, 1e-5), n)
    }),
    entry("efficientnet_b4", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v1(1.4, 1.8, 1e-5), n)
    }),
    entry("efficientnet_b5", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v1(1.6, 2.2, 1e-3), n)
    }),
    entry("efficientnet_b6", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v1(1.8, 2.6, 1e-3), n)
    }),
    entry("efficientnet_b7", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v1(2.0, 3.1, 1e-3), n)
    }),
    entry("efficientnet_v2_s", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v2('s'), n)
    }),
    entry("efficientnet_v2_m", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v2('m'), n)
    }),
    entry("efficientnet_v2_l", |s, n| {
        efficientnet::efficientnet(s, &efficientnet::v2('l'), n)
    }),
    entry("regnet_y_400mf", |s, n| {
        regnet::regnet(s, &regnet::Y_400MF, n)
    }),
    entry("regnet_y_800mf", |s, n| {
        regnet::regnet(s, &regnet::Y_800MF, n)
    }),
    entry("regnet_y_1_6gf", |s, n| {
        regnet::regnet(s, &regnet::Y_1_6GF, n)
    }),
    entry("regnet_y_3_2gf", |s, n| {
        regnet::regnet(s, &regnet::Y_3_2GF, n)
    }),
    entry("regnet_y_8gf", |s, n| regnet::regnet(s, &regnet::Y_8GF, n)),
    entry("regnet_y_16gf", |s, n| {
        regnet::regnet(s, &regnet::Y_16GF, n)
    }),
    entry("regnet_y_32gf", |s, n| {
        regnet::regnet(s, &regnet::Y_32GF, n)
    }),
    entry("regnet_y_128gf", |s, n| {
        regnet::regnet(s, &regnet::Y_128GF, n)
    }),
    entry("regnet_x_400mf", |s, n| {
        regnet::regnet(s, &regnet::X_400MF, n)
    }),
    entry("regnet_x_800mf", |s, n| {
        regnet::regnet(s, &regnet::X_800MF, n)
    }),
    entry("regnet_x_1_6gf", |s, n| {
        regnet::regnet(s, &regnet::X_1_6GF, n)
    }),
    entry("regnet_x_3_2gf", |s, n| {
        regnet::regnet(s, &regnet::X_3_2GF, n)
    }),
    entry("regnet_x_8gf", |s, n| regnet::regnet(s, &regnet::X_8GF, n)),
    entry("regnet_x_16gf", |s, n| {
        regnet::regnet(s, &regnet::X_16GF, n)
    }),
    entry("regnet_x_32gf", |s, n| {
        regnet::regnet(s, &regnet::X_32GF, n)
    }),
    entry("convnext_tiny", |s, n| {
        convnext::convnext(s, &convnext::TINY, n)
    }),
    entry("convnext_small", |s, n| {
        convnext::convnext(s, &convnext::SMALL, n)
    }),
    entry("convnext_base", |s, n| {
        convnext::convnext(s, &convnext::BASE, n)
    }),
    entry("convnext_large", |s, n| {
        convnext::convnext(s, &convnext::LARGE, n)
    }),
    entry("vit_b_16", |s, n| vit::vit(s, &vit::B_16, n)),
    entry("vit_b_32", |s, n| vit::vit(s, &vit::B_32, n)),
    entry("vit_l_16", |s, n| vit::vit(s, &vit::L_16, n)),
    entry("vit_h_14", |s, n| vit::vit(s, &vit::H_14, n)),
    entry("swin_t", |s, n| swin::swin(s, &swin::T, n)),
    entry("swin_s", |s, n| swin::swin(s, &swin::S, n)),
    entry("swin_b", |s, n| swin::swin(s, &swin::B, n)),
    entry("swin_v2_t", |s, n| swin::swin(s, &swin::V2_T, n)),
    entry("maxvit_t", maxvit::maxvit_t),
];

pub(super) fn find(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalogue lists what `list` shows and what the CLI accepts; each name needs one constructor
    /// (in any order: the catalogue orders the list).
    #[test]
    fn every_catalogue_entry_has_one_constructor() {
        let mut ours: Vec<&str> = ENTRIES.iter().map(|e| e.name).collect();
        let mut catalogue: Vec<&str> = catalog::CATALOG.iter().map(|b| b.name).collect();
        ours.sort_unstable();
        catalogue.sort_unstable();
        assert_eq!(ours, catalogue);
    }
}
