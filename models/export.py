"""Export tchinfo's sample models and their ground truth.

Pinned: torch 2.13.0, torchvision 0.28.0, torchinfo 1.8.0, transformers 5 (CPU is enough; nothing is
downloaded, all weights are random with a fixed seed, the transformers built from tiny configs).

Rerun in a throwaway virtual environment (about 5 GB with the CUDA wheels torch pulls in; the Rust tests never
need it, they only read the committed files):

    python3 -m venv /tmp/venv-export
    /tmp/venv-export/bin/pip install torch==2.13.0 torchvision==0.28.0 torchinfo==1.8.0 transformers==5.24.0
    /tmp/venv-export/bin/python models/export.py            # small samples + models/reference/*.json
    /tmp/venv-export/bin/python models/export.py --only gpt2_tiny   # one transformer or frozen sample
    /tmp/venv-export/bin/python models/export.py --large    # also torchvision exports into models/large/
    /tmp/venv-export/bin/python models/export.py --builtins # only the built-in zoo's torchvision reference

Writes, next to this script:
- `<name>.pt`: small TorchScript samples (see models/README.md for what each one exercises), plus
  `state_dict.pt` (a `torch.save` state dict, not TorchScript), `checkpoint.pt` (the same state dict
  inside a training checkpoint with optimizer state) and `data_version_layout.pt` (a copy of
  `resnet_tiny_scripted.pt` with its `version` record moved to `.data/version`, the other layout PyTorch
  has written, and every record stored uncompressed).
- `reference/<name>.json`: ground truth from eager PyTorch — inputs, every module's class and output
  shapes (forward hooks), every parameter and buffer with dtype and requires_grad, totals, and torchinfo's
  total mult-adds.
- `bert_tiny.pt`, `gpt2_tiny.pt`, `llama_tiny.pt`, `mixtral_tiny.pt`, `whisper_tiny.pt`: tiny random-weight
  Hugging Face models (transformers' own classes, traced with keyword inputs), with references that add
  `torch.utils.flop_counter.FlopCounterMode`'s count ÷ 2 and the products it leaves out on CPU (the SDPA
  kernel, torch._grouped_mm): `op_mult_adds` is their sum.
- `resnet_tiny_frozen.pt` (torch.jit.freeze) and `resnet_tiny_optimized.pt` (torch.jit.optimize_for_inference,
  which PyTorch itself cannot load back).
- with `--large`: `large/vgg16.scripted.pt`, `large/resnet18.{scripted,traced}.pt`,
  `large/resnet50.{scripted,traced}.pt` (git-ignored, for benchmarks only).
- recorded graphs (also alone with `--graphs`; they need onnx and onnxscript too): `<name>.pt2` from
  `torch.export.save` and `<name>.onnx` from `torch.onnx.export` for a small CNN, a small transformer and a
  model with a tied head, plus variants of layout and exporter (see models/README.md), and
  `reference/graphs/<name>.json`: eager PyTorch's module output shapes (forward hooks), torchinfo's totals
  and each module's own operator mult-adds from `torch.utils.flop_counter`, at the export's example input.
"""

import argparse
import collections
import io
import json
import os
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "reference")
LARGE = os.path.join(HERE, "large")
SEED = 0

# ---------------------------------------------------------------------------------------------- the models


class VggTiny(nn.Module):
    """VGG in miniature, with the fc6/fc7/fc8 names of the original Caffe model in a keyed Sequential."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            collections.OrderedDict(
                [
                    ("fc6", nn.Linear(16 * 2 * 2, 64)),
                    ("relu6", nn.ReLU(inplace=True)),
                    ("drop6", nn.Dropout()),
                    ("fc7", nn.Linear(64, 64)),
                    ("relu7", nn.ReLU(inplace=True)),
                    ("drop7", nn.Dropout()),
                    ("fc8", nn.Linear(64, num_classes)),
                ]
            )
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNetTiny(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class FrozenBackbone(nn.Module):
    """A feature extractor with requires_grad False and a trainable head, as in fine-tuning."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 5))
        self.backbone.requires_grad_(False)

    def forward(self, x):
        return self.head(self.backbone(x))


class TiedEmbedding(nn.Module):
    """A language-model head whose output projection shares the embedding matrix."""

    def __init__(self, vocab: int = 50, dim: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.body = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, tokens):
        return self.out(torch.tanh(self.body(self.embed(tokens))))


class HalfMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(32, 8)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class MyBlock(nn.Module):
    """A user class holding a ModuleList and a ModuleDict; two widths give two mangled TorchScript classes."""

    def __init__(self, dim: int, depth: int):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(dim, dim) for _ in range(depth)])
        self.extras = nn.ModuleDict({"norm": nn.LayerNorm(dim), "act": nn.ReLU()})
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        x = self.extras["norm"](x)
        x = self.extras["act"](x)
        return x * self.scale


class NestedBlocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([MyBlock(16, 2), MyBlock(16, 1)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(16, 4), "reg": nn.Linear(16, 1)})

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        outs = []
        for _, head in self.heads.items():
            outs.append(head(x))
        return torch.cat(outs, dim=1)


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 100, dim: int = 32, heads: int = 4, seq: int = 8):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(1, seq, dim))
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Linear(4 * dim, dim))
        self.norm2 = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos
        a, _ = self.attn(x, x, x, need_weights=False)
        x = self.norm1(x + a)
        x = self.norm2(x + self.ff(x))
        return self.head(x)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.left = nn.Linear(16, 8)
        self.right = nn.Linear(8, 8)
        self.merge = nn.Linear(16, 4)

    def forward(self, x, y):
        return self.merge(torch.cat([F.relu(self.left(x)), F.relu(self.right(y))], dim=1))


class BiasBeforeBn(nn.Module):
    """Convolutions with a bias straight into BatchNorm (wasted parameters) next to ones without."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=True)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 16, 3, padding=1, bias=True)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.relu(self.conv3(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class OddKeys(nn.Module):
    """ModuleDict keys holding a line break, a pipe and a comma: every report must keep its rows whole.
    libtorch parses the key back from the archive's code and fails, so only the structure is read."""

    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleDict({"line\nbreak": nn.Linear(4, 4), "pipe|and,comma": nn.Linear(4, 2)})

    def forward(self, x):
        for _, head in self.heads.items():
            x = head(x)
        return x


class HostileNames(nn.Module):
    """ModuleDict keys written to break out of an HTML page: a closing script tag, an image with an error
    handler, a comment opener, a template placeholder and an entity. The HTML report must show them as
    text. Only the structure is read (libtorch cannot load such keys back, as odd_keys.pt)."""

    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleDict(
            {
                "</script><script>pwned=1</script>": nn.Linear(4, 4),
                "<img src=x onerror=pwned=2>": nn.Linear(4, 4),
                "<!--{{script}}&amp;": nn.Linear(4, 2),
            }
        )

    def forward(self, x):
        for _, head in self.heads.items():
            x = head(x)
        return x


def image():
    return [torch.randn(1, 3, 32, 32)]


def tokens(vocab):
    return [torch.randint(0, vocab, (1, 8), dtype=torch.int64)]


# name → (constructor, example inputs, how to compile)
SAMPLES = {
    "vgg_tiny": (VggTiny, image, "script"),
    "resnet_tiny_scripted": (ResNetTiny, image, "script"),
    "resnet_tiny_traced": (ResNetTiny, image, "trace"),
    "frozen_backbone": (FrozenBackbone, image, "script"),
    "tied_embedding": (TiedEmbedding, lambda: tokens(50), "script"),
    "half_mlp": (lambda: HalfMlp().half(), lambda: [torch.randn(1, 16).half()], "script"),
    "nested_blocks": (NestedBlocks, lambda: [torch.randn(1, 16)], "script"),
    "tiny_transformer": (TinyTransformer, lambda: tokens(100), "script"),
    "two_inputs": (TwoInputs, lambda: [torch.randn(1, 16), torch.randn(1, 8)], "script"),
    "bias_before_bn": (BiasBeforeBn, image, "script"),
    "odd_keys": (OddKeys, lambda: [torch.randn(1, 4)], "script"),
    "hostile_names": (HostileNames, lambda: [torch.randn(1, 4)], "script"),
}

# Saved through an in-memory buffer, which makes PyTorch name the archive's root folder `archive/` instead
# of the file's name: the reader must accept both.
SAVED_VIA_BUFFER = {"tied_embedding"}

# ------------------------------------------------------------------------------------------ ground truth


def dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def output_shapes(output):
    """Shapes of every tensor in a module's output, flattening tuples, lists and dicts (a Hugging Face
    ModelOutput is one) in order, None entries skipped."""
    if isinstance(output, torch.Tensor):
        return [list(output.shape)]
    if isinstance(output, (tuple, list)):
        return [s for o in output for s in output_shapes(o)]
    if isinstance(output, dict):
        return [s for o in output.values() for s in output_shapes(o)]
    return []


def call(model, inputs):
    """Runs the model on a list of positional inputs or a dict of keyword inputs."""
    return model(**inputs) if isinstance(inputs, dict) else model(*inputs)


def input_tensors(inputs):
    return list(inputs.values()) if isinstance(inputs, dict) else list(inputs)


def reference(model, inputs):
    """What eager PyTorch says about the model: classes, output shapes, tensors, totals."""
    model.eval()
    recorded = {}
    hooks = []
    for path, module in model.named_modules():

        def hook(mod, args, out, path=path):
            recorded.setdefault(path, []).append(output_shapes(out))

        hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        call(model, inputs)
    for h in hooks:
        h.remove()

    modules = []
    for path, m in model.named_modules():
        calls = recorded.get(path, [])
        entry = {"path": path, "type": type(m).__name__, "output_shapes": calls[0] if calls else None}
        if len(calls) > 1:  # called more than once per forward: every later call's outputs too
            entry["repeat_output_shapes"] = calls[1:]
        modules.append(entry)
    first_owner = {}
    parameters = []
    for name, p in model.named_parameters(remove_duplicate=False):
        key = (p.untyped_storage().data_ptr(), p.storage_offset(), tuple(p.shape), p.stride())
        entry = {"name": name, "shape": list(p.shape), "dtype": dtype_name(p.dtype), "requires_grad": p.requires_grad}
        if key in first_owner:
            entry["tied_to"] = first_owner[key]
        else:
            first_owner[key] = name
        parameters.append(entry)
    buffers = [
        {"name": name, "shape": list(b.shape), "dtype": dtype_name(b.dtype)}
        for name, b in model.named_buffers(remove_duplicate=False)
    ]
    unique = list(model.parameters())  # remove_duplicate=True: tied tensors once
    names = list(inputs) if isinstance(inputs, dict) else [None] * len(inputs)
    return {
        "inputs": [
            {"shape": list(t.shape), "dtype": dtype_name(t.dtype), **({"name": n} if n else {})}
            for n, t in zip(names, input_tensors(inputs))
        ],
        "modules": modules,
        "parameters": parameters,
        "buffers": buffers,
        "total_params": sum(p.numel() for p in unique),
        "trainable_params": sum(p.numel() for p in unique if p.requires_grad),
        "total_buffer_elements": sum(b.numel() for b in model.buffers()),
        **torchinfo_totals(model, inputs),
    }


def torchinfo_totals(model, inputs):
    """torchinfo's totals: mult-adds, "Forward/backward pass size" and "Params size" in bytes (its input
    size is left out: it adds the Python object header of each input's storage)."""
    import torchinfo

    stats = torchinfo.summary(
        model, input_data=inputs, verbose=0, device="cpu", dtypes=[t.dtype for t in input_tensors(inputs)]
    )
    return {
        "torchinfo_total_mult_adds": int(stats.total_mult_adds),
        "torchinfo_forward_backward_bytes": int(stats.total_output_bytes),
        "torchinfo_params_bytes": int(stats.total_param_bytes),
    }


def compile_model(model, inputs, how):
    if how == "script":
        return torch.jit.script(model)
    return torch.jit.trace(model, tuple(inputs))


def save_torchscript(compiled, path, via_buffer):
    if via_buffer:
        buf = io.BytesIO()
        torch.jit.save(compiled, buf)
        with open(path, "wb") as f:
            f.write(buf.getvalue())
    else:
        torch.jit.save(compiled, path)


def write_json(path, data):
    """One top-level key per line, one list element per line: small diffs when a sample changes."""
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            items = ",\n".join(f"  {json.dumps(v)}" for v in value)
            lines.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def rewrite_version_layout(src, dst):
    """Copies a TorchScript zip, moving the version record between `<root>/version` and
    `<root>/.data/version`, so both layouts PyTorch has written over the years are covered."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        names = zin.namelist()
        root = names[0].split("/", 1)[0]
        has_root_version = f"{root}/version" in names
        for name in names:
            data = zin.read(name)
            if name == f"{root}/version" and has_root_version:
                name = f"{root}/.data/version"
            elif name == f"{root}/.data/version" and not has_root_version:
                name = f"{root}/version"
            zout.writestr(zipfile.ZipInfo(name), data)


# ---------------------------------------------------------------------------- transformers, frozen files

# Tiny random-weight configurations of real Hugging Face architectures (transformers 5), traced with
# their keyword inputs. torchscript=True makes tracing possible; use_cache=False keeps the cache object
# out of the outputs. Token ids stay below the vocabulary, special tokens inside it.
TRANSFORMER_SEQ = 16


def transformer_configs():
    from transformers import (
        BertConfig,
        BertModel,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        MixtralConfig,
        MixtralForCausalLM,
        WhisperConfig,
        WhisperForConditionalGeneration,
    )

    common = dict(torchscript=True, use_cache=False, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    ids = lambda: {"input_ids": torch.randint(3, 100, (1, TRANSFORMER_SEQ))}  # noqa: E731
    return {
        "bert_tiny": (
            lambda: BertModel(
                BertConfig(
                    vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=64, **common,
                )
            ),
            ids,
        ),
        "gpt2_tiny": (
            lambda: GPT2LMHeadModel(GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=2, n_positions=64, **common)),
            ids,
        ),
        "llama_tiny": (
            lambda: LlamaForCausalLM(
                LlamaConfig(
                    vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, intermediate_size=64, max_position_embeddings=64, **common,
                )
            ),
            ids,
        ),
        "mixtral_tiny": (
            lambda: MixtralForCausalLM(
                MixtralConfig(
                    vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, intermediate_size=64, num_local_experts=4, num_experts_per_tok=2,
                    max_position_embeddings=64, **common,
                )
            ),
            ids,
        ),
        "whisper_tiny": (
            lambda: WhisperForConditionalGeneration(
                WhisperConfig(
                    vocab_size=100, num_mel_bins=8, encoder_layers=1, decoder_layers=1, d_model=32,
                    encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                    max_source_positions=16, max_target_positions=16, decoder_start_token_id=1, **common,
                )
            ),
            # The encoder's two convolutions halve 2 × max_source_positions frames.
            lambda: {"input_features": torch.randn(1, 8, 32), "decoder_input_ids": torch.randint(3, 100, (1, 4))},
        ),
    }


def attention_mult_adds(q, k, v):
    """Scores and weighted values of scaled dot-product attention: L·S·E + L·S·Ev per batch and head."""
    lead = 1
    for d in q[:-2]:
        lead *= d
    l, e, s, ev = q[-2], q[-1], k[-2], v[-1]
    return lead * (l * s * e + l * s * ev)


def grouped_mm_mult_adds(a, b, out):
    """torch._grouped_mm: each output element sums over its group's K."""
    n = 1
    for d in out:
        n *= d
    if len(a) == 2 and len(b) == 2:
        return n // out[0] * a[1]
    return n * a[-1]


def operator_reference(model, inputs):
    """FlopCounterMode's count ÷ 2, and the products it leaves out on CPU: the attention kernels
    (_scaled_dot_product_flash_attention_for_cpu has no formula there) and torch._grouped_mm."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    left_out = collections.Counter()

    class Products(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            name = str(func.overloadpacket)
            shapes = [list(a.shape) for a in args if isinstance(a, torch.Tensor)]
            if name.startswith("aten._scaled_dot_product"):
                left_out[name] += attention_mult_adds(*shapes[:3])
            elif name == "aten._grouped_mm":
                left_out[name] += grouped_mm_mult_adds(shapes[0], shapes[1], list(out.shape))
            return out

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter, Products():
        call(model, inputs)
    counted = {str(op): flops // 2 for op, flops in counter.get_flop_counts()["Global"].items()}
    flop_counter = counter.get_total_flops() // 2
    return {
        "flop_counter_mult_adds": flop_counter,
        "flop_counter_by_op": counted,
        "left_out_by_flop_counter": dict(left_out),
        "op_mult_adds": flop_counter + sum(left_out.values()),
    }


def export_transformers(only=None):
    import transformers

    for name, (make, make_inputs) in transformer_configs().items():
        if only and name not in only:
            continue
        torch.manual_seed(SEED)
        model = make().eval()
        inputs = make_inputs()
        ref = reference(model, inputs)
        ref.update(operator_reference(model, inputs))
        ref["compiled_with"] = f"trace (transformers {transformers.__version__}, keyword inputs)"
        with torch.no_grad():
            traced = torch.jit.trace(model, example_kwarg_inputs=inputs, strict=False)
        path = os.path.join(HERE, f"{name}.pt")
        torch.jit.save(traced, path)
        write_json(os.path.join(REFERENCE, f"{name}.json"), ref)
        print(f"{path}: {os.path.getsize(path):,} B, {ref['total_params']:,} params, {ref['op_mult_adds']:,} mult-adds")


def graph_constants(module):
    return [
        n.output().toIValue()
        for n in module.graph.findAllNodes("prim::Constant", True)
        if n.output().type().kind() == "TensorType"
    ]


def export_frozen(only=None):
    """ResNetTiny frozen (torch.jit.freeze: weights become constants of the code, BatchNorm folded into
    the convolutions) and optimized for inference (its convolution weights become MKL-DNN constants
    that torch.jit.save does not store: PyTorch itself cannot load the file back)."""
    if not only or "resnet_tiny_frozen" in only:
        torch.manual_seed(SEED)
        model = ResNetTiny().eval()
        ref = reference(model, image())
        ref.update(operator_reference(model, image()))
        frozen = torch.jit.freeze(torch.jit.script(model))
        path = os.path.join(HERE, "resnet_tiny_frozen.pt")
        torch.jit.save(frozen, path)
        # Saving stores equal constants once (the zero biases BatchNorm folding gives): count what was saved.
        constants = [t for t in graph_constants(torch.jit.load(path)) if t.is_floating_point()]
        ref["compiled_with"] = "script + torch.jit.freeze"
        ref["frozen_constant_tensors"] = len(constants)
        ref["frozen_constant_params"] = sum(t.numel() for t in constants)
        write_json(os.path.join(REFERENCE, "resnet_tiny_frozen.json"), ref)
        print(f"{path}: {os.path.getsize(path):,} B, {ref['frozen_constant_params']:,} frozen params")
    if not only or "resnet_tiny_optimized" in only:
        torch.manual_seed(SEED)
        optimized = torch.jit.optimize_for_inference(torch.jit.script(ResNetTiny().eval()))
        path = os.path.join(HERE, "resnet_tiny_optimized.pt")
        torch.jit.save(optimized, path)
        try:
            torch.jit.load(path)
            raise SystemExit(f"{path}: PyTorch loads it back; it no longer shows the unsaved MKL-DNN constants")
        except RuntimeError:
            pass
        print(f"{path}: {os.path.getsize(path):,} B (PyTorch cannot load it back)")


# ------------------------------------------------------------------------------------------------- main


def export_samples(only=None):
    os.makedirs(REFERENCE, exist_ok=True)
    for name, (make, make_inputs, how) in SAMPLES.items():
        if only and name not in only:
            continue
        torch.manual_seed(SEED)
        model = make().eval()
        inputs = make_inputs()
        ref = reference(model, inputs)
        ref["compiled_with"] = how
        compiled = compile_model(model, inputs, how)
        path = os.path.join(HERE, f"{name}.pt")
        save_torchscript(compiled, path, name in SAVED_VIA_BUFFER)
        write_json(os.path.join(REFERENCE, f"{name}.json"), ref)
        print(f"{path}: {os.path.getsize(path):,} B, {ref['total_params']:,} params")
    if only:
        return

    torch.manual_seed(SEED)
    model = ResNetTiny().eval()
    ref = reference(model, image())
    ref["compiled_with"] = "state_dict"
    path = os.path.join(HERE, "state_dict.pt")
    torch.save(model.state_dict(), path)
    write_json(os.path.join(REFERENCE, "state_dict.json"), ref)
    print(f"{path}: {os.path.getsize(path):,} B")

    export_checkpoint()

    old = os.path.join(HERE, "data_version_layout.pt")
    rewrite_version_layout(os.path.join(HERE, "resnet_tiny_scripted.pt"), old)
    # libtorch must still load the rewritten copy, or it is no sample of anything.
    torch.jit.load(old)
    print(f"{old}: {os.path.getsize(old):,} B (version record moved)")


def export_checkpoint():
    """A training checkpoint: the state dict nested under "model", next to optimizer state (whose
    tensors sit under integer keys) and plain values."""
    torch.manual_seed(SEED)
    model = ResNetTiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(image()[0]).sum().backward()
    opt.step()
    # The step changed the weights but not the structure the reference describes.
    path = os.path.join(HERE, "checkpoint.pt")
    torch.save({"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    print(f"{path}: {os.path.getsize(path):,} B")


# ------------------------------------------------------------------------------ recorded graphs (.pt2, ONNX)

GRAPHS = os.path.join(REFERENCE, "graphs")


def batch_dim():
    return torch.export.Dim("batch")


# name → (constructor, example inputs at batch 2, the forward's input name, dynamic batch)
GRAPH_SAMPLES = {
    # A CNN with BatchNorm, residual blocks, a ReLU module called twice per block and a downsample branch.
    "resnet_tiny": (ResNetTiny, lambda: [torch.randn(2, 3, 32, 32)], "x", True),
    # Embedding, a positional parameter on the root, nn.MultiheadAttention (scaled_dot_product_attention
    # inside, an out_proj it never calls as a module), LayerNorm, a feed-forward Sequential.
    "tiny_transformer": (TinyTransformer, lambda: tokens_at(100, 2), "tokens", True),
    # The output projection shares the embedding's weight; exported as torch.export does by default,
    # with every size fixed.
    "tied_embedding": (TiedEmbedding, lambda: tokens_at(50, 2), "tokens", False),
    # Convolutions with a bias straight into BatchNorm: the lint reads it from the graph's data flow.
    "bias_before_bn": (BiasBeforeBn, lambda: [torch.randn(2, 3, 32, 32)], "x", True),
}


def tokens_at(vocab, batch):
    return [torch.randint(0, vocab, (batch, 8), dtype=torch.int64)]


def exported(model, inputs, input_name, dynamic):
    shapes = {input_name: {0: batch_dim()}} if dynamic else None
    return torch.export.export(model, tuple(inputs), dynamic_shapes=shapes)


def own_op_mult_adds(model, inputs):
    """Each module's own operator mult-adds (its children's left out), keyed by module path, from
    torch.utils.flop_counter (FLOPs / 2). Attention runs through its math kernel, which the counter sees as
    two batched matmuls (it has no formula for the CPU flash kernel); gradients stay enabled so
    nn.MultiheadAttention takes the same path torch.export records, not its fused inference kernel."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(*inputs)
    root = type(model).__name__
    inclusive = {}
    for name, ops in counter.get_flop_counts().items():
        if name == "Global":
            continue
        path = "" if name == root else name.removeprefix(root + ".")
        inclusive[path] = sum(ops.values()) // 2
    own = {}
    for path, macs in inclusive.items():
        prefix = path + "." if path else ""
        children = [c for c in inclusive if c and c != path and c.startswith(prefix) and "." not in c[len(prefix) :]]
        own[path] = macs - sum(inclusive[c] for c in children)
    # In named_modules() order, so the file does not change with the counter's dict order.
    order = [p for p, _ in model.named_modules()]
    own = {p: own[p] for p in sorted(own, key=lambda p: order.index(p) if p in order else len(order))}
    return own, inclusive.get("", 0)


def graph_reference(model, inputs):
    ref = reference(model, inputs)
    own, total = own_op_mult_adds(model, inputs)
    ref["op_mult_adds"] = own
    ref["total_op_mult_adds"] = total
    return ref


def trained_like(model):
    """Random values in every parameter and buffer, as training leaves them: no zero bias, no unit norm
    weight, no two equal tensors. The exporters' optimizers drop or merge tensors that are constant (a zero
    bias, two LayerNorms both still at ones), which real weights never are; tied tensors stay tied."""
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for _, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.5 if t.dim() <= 1 else torch.randn(t.shape, generator=g) * 0.1)
    return model


def bn_folded_params(model):
    """Parameters once every BatchNorm is folded into the convolution before it, as torch.onnx's default
    optimizer (onnxscript's FuseBatchNormIntoConv) leaves them: the convolution keeps its weight and gains a
    bias of its output channels, the BatchNorm's weight and bias are gone."""
    total = sum(p.numel() for p in model.parameters())
    previous = None
    for _, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d) and isinstance(previous, nn.Conv2d):
            total -= m.weight.numel() + m.bias.numel()
            if previous.bias is None:
                total += previous.out_channels
        if not list(m.children()):
            previous = m
    return total


def write_legacy_pt2(ep, path):
    """The torch.export archive of PyTorch 2.3 to 2.7 — serialized_exported_program.json beside a pickled
    serialized_state_dict.pt, at the top of the zip — written with torch's own serializer, as those versions'
    torch.export.save did; torch.export.load of 2.13 still reads it."""
    from torch._export.serde.schema import SCHEMA_VERSION
    from torch._export.serde.serialize import serialize

    artifact = serialize(ep)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("serialized_exported_program.json", artifact.exported_program)
        z.writestr("serialized_state_dict.pt", artifact.state_dict)
        z.writestr("serialized_constants.pt", artifact.constants)
        z.writestr("serialized_example_inputs.pt", artifact.example_inputs)
        z.writestr("version", ".".join(map(str, SCHEMA_VERSION)))


def export_graphs():
    import warnings

    import onnx

    os.makedirs(GRAPHS, exist_ok=True)
    for name, (make, make_inputs, input_name, dynamic) in GRAPH_SAMPLES.items():
        torch.manual_seed(SEED)
        model = trained_like(make().eval())
        inputs = make_inputs()
        ref = graph_reference(model, inputs)
        ep = exported(model, inputs, input_name, dynamic)
        path = os.path.join(HERE, f"{name}.pt2")
        torch.export.save(ep, path)
        torch.export.load(path)
        ref["dynamic_batch"] = dynamic
        ref["bn_folded_params"] = bn_folded_params(model)
        if dynamic:
            # The same model at another batch: the sizes a reader evaluates from the file's expressions.
            again = [torch.cat([t, t[:1]]) for t in inputs]
            other = graph_reference(model, again)
            ref["at_batch_3"] = {k: other[k] for k in ("inputs", "modules", "op_mult_adds", "total_op_mult_adds")}
        write_json(os.path.join(GRAPHS, f"{name}.json"), ref)
        print(f"{path}: {os.path.getsize(path):,} B, {ref['total_params']:,} params")

        if name in ("resnet_tiny", "bias_before_bn"):
            continue  # resnet_tiny has three exports of its own below; the lint sample needs none
        shapes = {input_name: {0: batch_dim()}} if dynamic else None
        onnx_path = os.path.join(HERE, f"{name}.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The exporter's defaults except external data: one file.
            torch.onnx.export(model, tuple(inputs), onnx_path, dynamic_shapes=shapes, external_data=False)
        onnx.checker.check_model(onnx_path)
        print(f"{onnx_path}: {os.path.getsize(onnx_path):,} B")

    torch.manual_seed(SEED)
    model = trained_like(ResNetTiny().eval())
    inputs = [torch.randn(2, 3, 32, 32)]
    shapes = {"x": {0: batch_dim()}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Everything as torch.onnx.export does it by default: the graph optimized (BatchNorm folded into the
        # convolutions) and the weights in a side file.
        torch.onnx.export(model, tuple(inputs), os.path.join(HERE, "resnet_tiny_defaults.onnx"), dynamic_shapes=shapes)
        # Not optimized: every module's operators as PyTorch ran them.
        torch.onnx.export(
            model, tuple(inputs), os.path.join(HERE, "resnet_tiny_unoptimized.onnx"), dynamic_shapes=shapes,
            optimize=False, external_data=False,
        )
        # The TorchScript-based exporter (dynamo=False): scope names in node names (/layer1/layer1.0/conv1/Conv),
        # BatchNorm folded, anonymous weights (onnx::Conv_62), no intermediate shapes.
        torch.onnx.export(
            model, tuple(inputs), os.path.join(HERE, "resnet_tiny_legacy.onnx"), dynamo=False,
            input_names=["x"], dynamic_axes={"x": {0: "batch"}},
        )
    for f in ["resnet_tiny_defaults.onnx", "resnet_tiny_unoptimized.onnx", "resnet_tiny_legacy.onnx"]:
        onnx.checker.check_model(os.path.join(HERE, f))
        print(f"{f}: {os.path.getsize(os.path.join(HERE, f)):,} B")

    torch.manual_seed(SEED)
    model = trained_like(TiedEmbedding().eval())
    legacy = os.path.join(HERE, "tied_embedding_legacy_layout.pt2")
    write_legacy_pt2(exported(model, tokens_at(50, 2), "tokens", False), legacy)
    # torch.export.load logs the new format's failure before it falls back to the old one.
    import logging

    logging.getLogger("torch.export").setLevel(logging.ERROR)
    torch.export.load(legacy)
    print(f"{legacy}: {os.path.getsize(legacy):,} B")


def export_large():
    import torchvision

    os.makedirs(LARGE, exist_ok=True)
    example = torch.randn(1, 3, 224, 224)
    jobs = [("vgg16", ["scripted"]), ("resnet18", ["scripted", "traced"]), ("resnet50", ["scripted", "traced"])]
    for arch, kinds in jobs:
        torch.manual_seed(SEED)
        model = getattr(torchvision.models, arch)(weights=None).eval()
        for kind in kinds:
            compiled = torch.jit.script(model) if kind == "scripted" else torch.jit.trace(model, example)
            path = os.path.join(LARGE, f"{arch}.{kind}.pt")
            torch.jit.save(compiled, path)
            print(f"{path}: {os.path.getsize(path):,} B")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="also write torchvision exports to models/large/")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="write only these samples (a TorchScript sample such as hostile_names, or a transformer or "
        "frozen one: bert_tiny, gpt2_tiny, llama_tiny, mixtral_tiny, whisper_tiny, resnet_tiny_frozen, "
        "resnet_tiny_optimized), leaving every other file as it is",
    )
    parser.add_argument(
        "--builtins",
        action="store_true",
        help="only rewrite the built-in zoo's torchvision reference (tests/fixtures/builtin/, ~10 minutes)",
    )
    parser.add_argument("names", nargs="*", help="with --builtins: only these built-ins")
    parser.add_argument("--graphs", action="store_true", help="write the .pt2 and ONNX samples only")
    args = parser.parse_args()
    assert torch.__version__.startswith("2.13."), f"pinned to torch 2.13, found {torch.__version__}"
    if args.builtins:
        export_builtin_reference(args.names)
        return
    if args.graphs:
        export_graphs()
        return
    export_samples(args.only)
    export_transformers(args.only)
    export_frozen(args.only)
    if not args.only:
        export_graphs()
    if args.large:
        export_large()


def export_builtin_reference(names):
    """The built-in architectures' ground truth lives beside their tests; its writer is run from here so
    that every reference number comes from one entry point."""
    import runpy
    import sys

    fixtures = os.path.join(HERE, "..", "tests", "fixtures", "builtin", "make_fixtures.py")
    sys.argv = [fixtures, *names]
    runpy.run_path(fixtures, run_name="__main__")


if __name__ == "__main__":
    main()
