"""Record what Hugging Face transformers builds from each language-model config tchinfo knows, for the tests.

Pinned: torch 2.13.0, transformers 5.24.0, torchinfo 1.8.0 (CPU; nothing is downloaded). Run from the
repository root:

    /work/venv/bin/python models/transformers_reference.py

Configs read:
- `core/src/architectures/presets/<name>.json`: the built-in presets (gpt2 … Mixtral-8x7B), written out as
  the Hub's `config.json` files have them, from their published values (this machine cannot reach the Hub).
- `tests/fixtures/transformers/configs/<name>.json`: tiny configs that exercise what the presets leave
  out at a size every test can build (grouped KV heads with biases, tied and untied heads, a mixture of
  experts, another activation).

Writes, under `tests/fixtures/transformers/`:
  modules/<name>.txt  one line per entry of `named_modules()`, in order: path (`-` for the root) TAB class
                      name TAB own parameters TAB own buffers TAB qualified class; tensors are written
                      `name[d0,d1,...]:dtype`, space separated (`-` when none) — the format of
                      tests/fixtures/builtin/modules.
  totals.txt          name TAB parameters TAB buffer elements TAB tied parameters, for every config.
                      Parameters and buffers count a shared tensor once, as `parameters()` does; the tied
                      column lists `path=first owner` pairs (`-` when none).
  shapes/<name>_<B>x<S>.txt
                      one forward pass on token ids of shape B×S (eval mode, no grad, no KV cache):
                      `# torchinfo_mult_adds N` (torchinfo 1.8's total), `# op_mult_adds N` (every
                      matmul, linear and attention product, from torch.utils.flop_counter: FLOPs / 2),
                      `# op PATH N` for each module whose own operators (children excluded) cost N, then
                      per module call in hook order: path TAB shape TAB dtype of the first tensor it
                      returned (a ModelOutput's first field: logits or last_hidden_state).

How each model is built: `AutoModelForCausalLM.from_config` for the decoder models (GPT-2, Llama,
Mistral, Qwen2, Mixtral), `AutoModel.from_config` for BERT (`BertModel`, the encoder with its pooler —
what `AutoModel.from_pretrained("bert-base-uncased")` gives). In the config's dtype (`torch_dtype`:
bfloat16 for the Llama-architecture presets; float32 when a config names none), with the default
attention (sdpa) and experts implementation (grouped_mm), as `from_config` leaves them.

Models of at most 2 GiB of weights run for real on random weights with random valid token ids.
Larger ones are built on the meta device (no memory) and run there — shapes and counts need no values —
with the causal mask left to sdpa's `is_causal` (building the mask calls `.item()`, which meta tensors
cannot); Mixtral-8x7B's expert routing needs real values, so it gets structure and totals only (its
forward is checked on the tiny mixture-of-experts config). The operator counts come from a second run
with sdpa's math backend and the experts' eager loop, which the flop counter sees through (it does not
count CPU flash attention or grouped_mm); the products are the same ones.
"""

import contextlib
import json
import os
import sys

import torch
import torchinfo
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESETS = os.path.join(ROOT, "core", "src", "architectures", "presets")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "transformers")
TINY = os.path.join(FIXTURES, "configs")
SEED = 0
# Weights up to this size are built and run for real; larger ones on the meta device.
REAL_LIMIT = 2 << 30

# (config name, batch, seq) forward passes to record. The defaults (batch 1, seq 128) for every dense
# preset; small runs for the tiny configs and the presets tchinfo builds with tch, which its tests run.
SHAPE_RUNS = [
    ("gpt2", 1, 128),
    ("gpt2", 2, 16),
    ("gpt2-medium", 1, 16),
    ("gpt2-large", 1, 128),
    ("gpt2-xl", 1, 128),
    ("bert-base-uncased", 1, 128),
    ("bert-base-uncased", 2, 16),
    ("bert-large-uncased", 1, 16),
    ("Llama-3.2-1B", 1, 128),
    ("Llama-3.2-3B", 1, 128),
    ("Llama-3.1-8B", 1, 128),
    ("Llama-3.1-8B", 2, 4096),
    ("Mistral-7B", 1, 128),
    ("Qwen2.5-0.5B", 1, 128),
    ("Qwen2.5-0.5B", 1, 16),
    ("Qwen2.5-1.5B", 1, 128),
    ("Qwen2.5-7B", 1, 128),
    ("tiny-gpt2", 2, 7),
    ("tiny-bert", 2, 7),
    ("tiny-llama", 2, 7),
    ("tiny-qwen2", 2, 7),
    ("tiny-mistral", 2, 7),
    ("tiny-mixtral", 2, 7),
    ("tiny-mixtral", 1, 1),
]


def configs():
    """(name, config dict) for every preset and tiny config, presets first, each sorted by name."""
    out = []
    for folder in (PRESETS, TINY):
        for file in sorted(os.listdir(folder)):
            if file.endswith(".json"):
                with open(os.path.join(folder, file)) as f:
                    out.append((file[: -len(".json")], json.load(f)))
    return out


def build(config_dict, device):
    config = AutoConfig.for_model(**config_dict)
    auto = AutoModel if config.model_type == "bert" else AutoModelForCausalLM
    with torch.device(device):
        model = auto.from_config(config)
    return model.eval()


def weight_bytes(config_dict):
    model = build(config_dict, "meta")
    return sum(p.numel() * p.element_size() for p in model.parameters())


def dtype_name(t):
    return str(t.dtype).replace("torch.", "")


def tensors(named):
    items = [f"{n}[{','.join(str(d) for d in t.shape)}]:{dtype_name(t)}" for n, t in named if t is not None]
    return " ".join(items) if items else "-"


def module_lines(model):
    lines = []
    for path, mod in model.named_modules():
        params = tensors(mod.named_parameters(recurse=False))
        buffers = tensors(mod.named_buffers(recurse=False))
        qualified = f"{type(mod).__module__}.{type(mod).__qualname__}"
        lines.append(f"{path or '-'}\t{type(mod).__name__}\t{params}\t{buffers}\t{qualified}")
    return lines


def tied(model):
    """`path=first owner` for every parameter that is another's tensor, in named_modules order."""
    first = {}
    pairs = []
    for path, mod in model.named_modules():
        for name, p in mod.named_parameters(recurse=False):
            full = f"{path}.{name}" if path else name
            if id(p) in first:
                pairs.append(f"{full}={first[id(p)]}")
            else:
                first[id(p)] = full
    return " ".join(pairs) or "-"


def totals_line(name, model):
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    return f"{name}\t{params}\t{buffers}\t{tied(model)}"


def first_tensor(out):
    while not isinstance(out, torch.Tensor):
        if isinstance(out, dict):  # a ModelOutput: its first field that is set
            out = next(iter(out.values()))
        elif isinstance(out, (tuple, list)):
            out = out[0]
        else:
            raise TypeError(f"no tensor in {type(out).__name__}")
    return out


@contextlib.contextmanager
def mask_left_to_sdpa(model):
    """On the meta device: no explicit causal mask (its construction reads values), sdpa's is_causal instead."""
    module = sys.modules[type(model).__module__]
    saved = {k: v for k, v in vars(module).items() if k.startswith("create_") and k.endswith("mask")}
    for k in saved:
        setattr(module, k, lambda *args, **kwargs: None)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(module, k, v)


def forward_kwargs(model):
    return {} if model.config.model_type == "bert" else {"use_cache": False}


def hook_calls(model, ids):
    names = {mod: path for path, mod in model.named_modules()}
    calls = []

    def hook(mod, _inp, out):
        t = first_tensor(out)
        calls.append(f"{names[mod] or '-'}\t{','.join(str(d) for d in t.shape)}\t{dtype_name(t)}")

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(ids, **forward_kwargs(model))
    finally:
        for h in handles:
            h.remove()
    return calls


def operator_mult_adds(model, ids):
    """(total, {path: own}) from the flop counter, with sdpa's math backend and the eager experts loop."""
    experts = getattr(model.config, "_experts_implementation", None)
    model.config._experts_implementation = "eager"
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(ids, **forward_kwargs(model))
    finally:
        model.config._experts_implementation = experts
    # Keys are `Class.path.to.module` and include every child's operators; the root is its class alone.
    root = type(model).__name__
    cumulative = {}
    for key, ops in counter.get_flop_counts().items():
        if key == "Global":
            continue
        path = key[len(root) + 1 :] if key != root else ""
        cumulative[path] = sum(ops.values()) // 2
    # A module's own count is its total less that of its nearest counted descendants (a ModuleList is
    # never called, so `model.layers.0` reports straight to `model`).
    def parent(path):
        while path:
            path = path.rsplit(".", 1)[0] if "." in path else ""
            if path in cumulative:
                return path
        return None

    own = dict(cumulative)
    for path, total in cumulative.items():
        if path:
            own[parent(path)] -= total
    own = {path: n for path, n in own.items() if n}
    return counter.get_total_flops() // 2, own


def shape_run(name, model, batch, seq, device):
    vocab = model.config.vocab_size
    if device == "meta":
        ids = torch.zeros(batch, seq, dtype=torch.long, device="meta")
    else:
        ids = torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(SEED))
    context = mask_left_to_sdpa(model) if device == "meta" else contextlib.nullcontext()
    with context:
        calls = hook_calls(model, ids)
        total, own = operator_mult_adds(model, ids)
        info = torchinfo.summary(model, input_data=[ids], verbose=0, device=device, **forward_kwargs(model))
    header = [f"# torchinfo_mult_adds {info.total_mult_adds}", f"# op_mult_adds {total}"]
    header += [f"# op {path or '-'} {n}" for path, n in own.items()]
    with open(os.path.join(FIXTURES, "shapes", f"{name}_{batch}x{seq}.txt"), "w") as f:
        f.write("\n".join(header + calls) + "\n")


def main():
    os.makedirs(os.path.join(FIXTURES, "modules"), exist_ok=True)
    os.makedirs(os.path.join(FIXTURES, "shapes"), exist_ok=True)
    only = set(sys.argv[1:])
    totals = []
    for name, config_dict in configs():
        device = "cpu" if weight_bytes(config_dict) <= REAL_LIMIT else "meta"
        runs = [(b, s) for n, b, s in SHAPE_RUNS if n == name]
        if only and name not in only:
            model = build(config_dict, "meta")
            totals.append(totals_line(name, model))
            continue
        torch.manual_seed(SEED)
        model = build(config_dict, device)
        with open(os.path.join(FIXTURES, "modules", f"{name}.txt"), "w") as f:
            f.write("\n".join(module_lines(model)) + "\n")
        totals.append(totals_line(name, model))
        for batch, seq in runs:
            shape_run(name, model, batch, seq, device)
        print(name, device, totals[-1].split("\t")[1], file=sys.stderr)
        del model
    with open(os.path.join(FIXTURES, "totals.txt"), "w") as f:
        f.write("\n".join(totals) + "\n")


if __name__ == "__main__":
    main()
