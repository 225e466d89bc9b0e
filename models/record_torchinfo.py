"""PyTorch's own numbers for the two tch models of the recording examples, for `tests/record.rs`.

The tch models are `examples/models/mnist_cnn.rs` and `examples/models/tiny_lm.rs`; here they are
built again in PyTorch with the same module paths, and for each module `named_modules()` lists this
writes its class, its output shapes (forward hooks), torchinfo 1.8.0's mult-adds for its row, and
the mult-adds `torch.utils.flop_counter.FlopCounterMode` counts in it, children included (FLOPs ÷ 2).
FlopCounterMode has no CPU formula for the fused attention kernel, so the script adds the attention
product itself: (batch × heads × L × S) × (E + Ev). Totals: torchinfo's mult-adds, its forward/backward
pass size, params size and estimated total.

    /work/venv/bin/python models/record_torchinfo.py   # writes tests/fixtures/record/*.json
"""

import json
import pathlib
from collections import OrderedDict

import torch
import torch.nn.functional as F
import torchinfo
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "record"


def mnist_cnn():
    features = nn.Sequential(
        OrderedDict(
            [
                ("0", nn.Conv2d(1, 32, 3, padding=1)),
                ("1", nn.ReLU()),
                ("2", nn.MaxPool2d(2)),
                ("3", nn.Conv2d(32, 64, 3, padding=1)),
                ("4", nn.ReLU()),
                ("5", nn.MaxPool2d(2)),
            ]
        )
    )
    classifier = nn.Sequential(
        OrderedDict([("0", nn.Linear(64 * 7 * 7, 128)), ("1", nn.ReLU()), ("2", nn.Linear(128, 10))])
    )
    return nn.Sequential(OrderedDict([("features", features), ("1", nn.Flatten()), ("classifier", classifier)]))


VOCAB, CONTEXT, WIDTH, HEADS = 512, 64, 64, 4
ATTENTION_PRODUCTS = {}


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(WIDTH, 3 * WIDTH)
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        ATTENTION_PRODUCTS[self] = b * HEADS * t * t * (c // HEADS) * 2
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(WIDTH)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(WIDTH)
        self.mlp = nn.Sequential(nn.Linear(WIDTH, 4 * WIDTH), nn.GELU(), nn.Linear(4 * WIDTH, WIDTH))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TinyLm(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, WIDTH)
        self.wpe = nn.Embedding(CONTEXT, WIDTH)
        self.block = Block()
        self.ln_f = nn.LayerNorm(WIDTH)
        self.lm_head = nn.Linear(WIDTH, VOCAB, bias=False)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        return self.lm_head(self.ln_f(self.block(x)))


def shapes(out):
    if isinstance(out, torch.Tensor):
        return [list(out.shape)]
    if isinstance(out, (tuple, list)):
        return [s for o in out for s in shapes(o)]
    return []


def describe(model, x):
    model.eval()
    names = {m: n for n, m in model.named_modules()}
    outputs = {}

    def hook(m, _inputs, out):
        outputs.setdefault(names[m], shapes(out))  # a hook that returns something replaces the output

    hooks = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()

    stats = torchinfo.summary(model, input_data=x, verbose=0)
    torchinfo_macs = {}
    for info in stats.summary_list:
        torchinfo_macs[names[info.module]] = torchinfo_macs.get(names[info.module], 0) + info.macs

    counter = FlopCounterMode(display=False)
    ATTENTION_PRODUCTS.clear()
    with torch.no_grad(), counter:
        model(x)
    flops = counter.get_flop_counts()
    root_name = type(model).__name__
    mult_adds = {}
    for name in names.values():
        key = root_name if name == "" else f"{root_name}.{name}"
        mult_adds[name] = sum(flops.get(key, {}).values()) // 2
    # The fused attention kernel, which the counter leaves out, in the module that runs it and above.
    for module, products in ATTENTION_PRODUCTS.items():
        path = names[module]
        for name in mult_adds:
            if name == "" or path == name or path.startswith(name + "."):
                mult_adds[name] += products

    return {
        "input": list(x.shape),
        "modules": [
            {
                "path": name,
                "class": type(m).__name__,
                "outputs": outputs.get(name),
                "torchinfo_mult_adds": torchinfo_macs.get(name),
                "subtree_op_mult_adds": mult_adds[name],
            }
            for m, name in ((m, names[m]) for m in model.modules())
        ],
        "torchinfo": {
            "total_mult_adds": stats.total_mult_adds,
            "forward_backward_pass_bytes": stats.total_output_bytes,
            "params_bytes": stats.total_param_bytes,
            "input_bytes": stats.total_input,
        },
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cases = {
        "mnist_cnn": (mnist_cnn(), torch.zeros(1, 1, 28, 28)),
        "tiny_lm": (TinyLm(), torch.zeros(2, 32, dtype=torch.int64)),
    }
    for name, (model, x) in cases.items():
        doc = describe(model, x)
        doc["pytorch"] = torch.__version__
        doc["torchinfo"]["version"] = torchinfo.__version__
        (OUT / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {OUT / name}.json")


if __name__ == "__main__":
    main()
