//! The built-in architectures: names, families, default inputs and constructors. Each name is
//! torchvision's and builds what `torchvision.models.<name>()` builds, except googlenet and inception_v3
//! (`aux_logits=False`) and the `_aux` names, which are those two as torchvision's defaults build them.

use super::module::Module;
use super::scope::Scope;
use super::{
    alexnet, densenet, efficientnet, googlenet, inception, mobilenet_v2, resnet, squeezenet, vgg,
};
use tch::TchError;

pub(super) type Build = for<'a> fn(&Scope<'a>, i64) -> Result<Module, TchError>;

pub(super) struct Entry {
    pub(super) name: &'static str,
    pub(super) family: &'static str,
    /// C, H, W.
    pub(super) default_input: [i64; 3],
    pub(super) build: Build,
    /// What the reader should know about this model's summary (modules the eval forward never calls).
    pub(super) note: Option<&'static str>,
}

const IMAGENET: [i64; 3] = [3, 224, 224];

const fn entry(name: &'static str, family: &'static str, build: Build) -> Entry {
    Entry {
        name,
        family,
        default_input: IMAGENET,
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
    entry("vgg11", "VGG", |s, n| vgg::vgg(s, 11, false, n)),
    entry("vgg13", "VGG", |s, n| vgg::vgg(s, 13, false, n)),
    entry("vgg16", "VGG", |s, n| vgg::vgg(s, 16, false, n)),
    entry("vgg19", "VGG", |s, n| vgg::vgg(s, 19, false, n)),
    entry("vgg11_bn", "VGG", |s, n| vgg::vgg(s, 11, true, n)),
    entry("vgg13_bn", "VGG", |s, n| vgg::vgg(s, 13, true, n)),
    entry("vgg16_bn", "VGG", |s, n| vgg::vgg(s, 16, true, n)),
    entry("vgg19_bn", "VGG", |s, n| vgg::vgg(s, 19, true, n)),
    entry("alexnet", "AlexNet", alexnet::alexnet),
    entry("resnet18", "ResNet", |s, n| {
        resnet(s, Basic, [2, 2, 2, 2], 1, 64, n)
    }),
    entry("resnet34", "ResNet", |s, n| {
        resnet(s, Basic, [3, 4, 6, 3], 1, 64, n)
    }),
    entry("resnet50", "ResNet", |s, n| {
        resnet(s, Bottleneck, [3, 4, 6, 3], 1, 64, n)
    }),
    entry("resnet101", "ResNet", |s, n| {
        resnet(s, Bottleneck, [3, 4, 23, 3], 1, 64, n)
    }),
    entry("resnet152", "ResNet", |s, n| {
        resnet(s, Bottleneck, [3, 8, 36, 3], 1, 64, n)
    }),
    entry("resnext50_32x4d", "ResNeXt", |s, n| {
        resnet(s, Bottleneck, [3, 4, 6, 3], 32, 4, n)
    }),
    entry("wide_resnet50_2", "Wide ResNet", |s, n| {
        resnet(s, Bottleneck, [3, 4, 6, 3], 1, 128, n)
    }),
    entry("densenet121", "DenseNet", |s, n| {
        let v = densenet::Variant {
            growth_rate: 32,
            block_config: [6, 12, 24, 16],
            init_features: 64,
        };
        densenet::densenet(s, &v, n)
    }),
    entry("mobilenet_v2", "MobileNet", mobilenet_v2::mobilenet_v2),
    entry("squeezenet1_0", "SqueezeNet", |s, n| {
        squeezenet::squeezenet(s, squeezenet::Version::V1_0, n)
    }),
    entry("squeezenet1_1", "SqueezeNet", |s, n| {
        squeezenet::squeezenet(s, squeezenet::Version::V1_1, n)
    }),
    entry(
        "efficientnet_b0",
        "EfficientNet",
        efficientnet::efficientnet_b0,
    ),
    // The plain names are the inference networks (aux_logits=False, the figures the project's issue
    // fixes: inception_v3 23,834,568); the _aux names are what torchvision's default constructors build.
    Entry {
        note: Some(
            "without the auxiliary classifiers aux1 and aux2, which run only in training \
             (aux_logits=False); googlenet_aux has them, as torchvision.models.googlenet() builds it",
        ),
        ..entry("googlenet", "GoogLeNet", |s, n| {
            googlenet::googlenet(s, n, false)
        })
    },
    Entry {
        note: Some(
            "aux1 and aux2, the auxiliary classifiers (torchvision's default aux_logits=True), run only in \
             training: their parameters are counted, but they have no output shape, mult-adds \
             or activations",
        ),
        ..entry("googlenet_aux", "GoogLeNet", |s, n| {
            googlenet::googlenet(s, n, true)
        })
    },
    Entry {
        default_input: [3, 299, 299],
        note: Some(
            "without the auxiliary classifier AuxLogits, which runs only in training \
             (aux_logits=False); inception_v3_aux has it, as torchvision.models.inception_v3() builds it",
        ),
        ..entry("inception_v3", "Inception", |s, n| {
            inception::inception_v3(s, n, false)
        })
    },
    Entry {
        default_input: [3, 299, 299],
        note: Some(
            "AuxLogits, the auxiliary classifier (torchvision's default aux_logits=True), runs only in \
             training: its parameters are counted, but it has no output shape, mult-adds or \
             activations",
        ),
        ..entry("inception_v3_aux", "Inception", |s, n| {
            inception::inception_v3(s, n, true)
        })
    },
];

pub(super) fn find(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.name.eq_ignore_ascii_case(name))
}
