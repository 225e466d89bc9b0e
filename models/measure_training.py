#!/usr/bin/env python3
"""Ground truth for `tchinfo plan`: real PyTorch training steps on CPU, measured.

For a model at a batch it prints one JSON line:
- saved_bytes: bytes autograd saves for backward during the model's forward (training mode), through
  torch.autograd.graph.saved_tensors_hooks, deduplicated by storage and leaving the parameters and
  buffers out (model state resident before and after the step, as the weights are: BatchNorm's running
  statistics, a transformer's position_ids, a TorchScript file's tensor constants — not memory the step
  adds); every output's saved tensors count, those of outputs the loss does not use too (BERT's pooler),
  as a training loop keeps the forward's result until the step ends;
- peak_bytes: the resident-set high-water mark of a steady-state Adam step (forward, backward,
  optimizer step, zero_grad(set_to_none=True)), in anonymous memory (the file-backed part — libtorch's
  code pages, faulted in by the first step's kernels — taken out), above the anonymous memory before the
  model was built. The library that builds the model is imported, and one Adam step of a one-parameter
  model is run, before that baseline is read: a process's one-time costs of its first training step (the
  Python modules torch.optim imports on first use, ~75 MiB with torch 2.13; --cold keeps them in) are the
  program's, not the model's. The model's first step is run unmeasured so the optimizer state exists,
  then the mark is reset (/proc/self/clear_refs) and a second step measured. Run under
  MALLOC_MMAP_THRESHOLD_=65536 (the script re-executes itself with it) so freed blocks go back to the
  kernel and the mark is the step's own. peak_rss_bytes is the same mark with the code pages left in;
- state_bytes: weights (4 B per parameter) + gradients and Adam's state (12 B per trained parameter).

The loss is the mean of the output (as tchinfo's measuring run), or with --cross-entropy a real
cross-entropy against zero labels; GPT-2 (and a causal LM's hf: folder) computes its language-model
loss inside the forward, labels = the ids. A TorchScript file (a path ending in .pt) is loaded with
torch.jit.load and run with the graph executor's optimisations off (each operator records its own
autograd node, as eager PyTorch and tchinfo's sandboxed step do); its inputs come from --input-size
(the batch replaced by --batch) and --dtype, integer inputs filled with token ids 1..ROWS-1 (--ids-rows,
the vocabulary; tchinfo finds it from the Embedding that reads them), and the loss is the mean of its
first floating output. Fine-tuning as `tchinfo plan` plans it: --lora-rank R wraps every Linear (or
GPT-2 Conv1D) whose module path matches --lora-targets (tchinfo's default: attention's q, k, v and output
projections) in a LoRA layer written here as peft writes its own (a frozen base plus trained A, R × in,
and B, out × R; dropout 0, B zero-initialised; peft itself is not needed), the rest of the model frozen;
--train REGEX trains only the parameters whose full name matches (with LoRA: as well as the adapters),
--freeze REGEX freezes those that match (after --train). Frozen parameters get no gradient and no Adam
state, so autograd saves only what the backward of the trained ones needs. A Hugging Face folder builds
the class its config's `architectures` names (BertForMaskedLM computes its loss against labels = the
ids; --class overrides, e.g. BertModel). --baseline measures an empty step instead (a 1-parameter
model): with --cold, what a process's first training step costs whatever the model. Usage:
    python models/measure_training.py resnet50 --batch 8
    python models/measure_training.py gpt2 --batch 2 --seq-len 128
    python models/measure_training.py models/resnet_tiny_scripted.pt --batch 2 --input-size 1,3,32,32
    python models/measure_training.py models/bert_tiny.pt --batch 2 --input-size 1,8 --dtype i64 --ids-rows 100
    python models/measure_training.py hf:models/hf/tiny_llama --batch 2 --seq-len 64 --lora-rank 8
    python models/measure_training.py hf:models/hf/tiny_gpt2 --batch 2 --seq-len 64 --freeze '^transformer\.(wte|wpe|h\.0)\.'
"""
import argparse
import json
import os
import sys

if os.environ.get("MALLOC_MMAP_THRESHOLD_") != "65536":
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402


def rss_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def reset_high_water_mark():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def warm_up():
    """One Adam step of a one-parameter model, before the baseline is read: what any training step
    costs a process once — the Python modules torch.optim and autograd import on first use (torch._dynamo
    among them, tens of MiB), the autograd engine's thread — is the program's, not the model's."""
    m = torch.nn.Linear(1, 1, bias=False)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    m(torch.ones(1, 1)).sum().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def first_floating(out):
    """The first floating-point tensor of a forward's result, depth first through tuples, lists, dicts."""
    if isinstance(out, torch.Tensor):
        return out if out.is_floating_point() else None
    values = out.values() if isinstance(out, dict) else out if isinstance(out, (tuple, list)) else ()
    for v in values:
        t = first_floating(v)
        if t is not None:
            return t
    return None


def code_constants(model):
    """Storages of the tensor constants in a TorchScript file's code (GPT-2's gelu_new keeps 0.5,
    0.044715 and sqrt(2/pi) so): loaded with the file and shared by every call, state like its buffers."""
    ptrs = set()

    def walk(block):
        for node in block.nodes():
            if node.kind() == "prim::Constant" and node.hasAttribute("value") and node.kindOf("value") == "t":
                ptrs.add(node.t("value").untyped_storage().data_ptr())
            for inner in node.blocks():
                walk(inner)
    for module in model.modules():
        for name in module._c._method_names():
            walk(module._c._get_method(name).graph)
    return ptrs


def build_torchscript(path, batch, sizes, dtypes, ids_rows):
    torch._C._set_graph_executor_optimize(False)
    model = torch.jit.load(path)
    inputs = []
    for i, size in enumerate(sizes):
        dims = [batch] + size[1:]
        dtype = {"f32": torch.float32, "i64": torch.int64, "i32": torch.int32}[dtypes[min(i, len(dtypes) - 1)]]
        if dtype.is_floating_point:
            inputs.append(torch.ones(dims, dtype=dtype))
        else:
            n = 1
            for d in dims:
                n *= d
            inputs.append((torch.arange(n) % (ids_rows - 1) + 1).reshape(dims).to(dtype))

    def forward(m):
        return first_floating(m(*inputs))
    return model, forward


def has_loss(cls):
    return any(k in cls.__name__ for k in ("ForCausalLM", "LMHeadModel", "ForMaskedLM", "ForSequenceClassification"))


class LoraLayer(torch.nn.Module):
    """peft's LoRA layer, written out: the frozen base (a Linear, or GPT-2's Conv1D, which keeps its
    weight as in × out) plus B·A·x·scaling, A rank × in, B out × rank (zero at first, as peft starts it),
    no dropout (peft's default lora_dropout=0)."""

    def __init__(self, base, rank, alpha=8):
        super().__init__()
        self.base = base
        conv1d = type(base).__name__ == "Conv1D"
        rows, cols = base.weight.shape
        in_features, out_features = (rows, cols) if conv1d else (cols, rows)
        self.lora_A = torch.nn.Linear(in_features, rank, bias=False)
        self.lora_B = torch.nn.Linear(rank, out_features, bias=False)
        torch.nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / rank

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


# tchinfo's default LoRA targets (core/src/plan/finetune.rs): attention's q, k, v and output projections.
DEFAULT_LORA_TARGETS = (r"(^|\.)(q_proj|k_proj|v_proj|o_proj|query|key|value|attention\.output\.dense|c_attn"
                        r"|attn\.c_proj|attn_q|attn_k|attn_v|attn_output)$")


def finetune(model, lora_rank, lora_targets, train, freeze):
    """Freezes and adapts `model` as `tchinfo plan --lora-rank/--train/--freeze` plans it."""
    import re
    if lora_rank or train:
        for p in model.parameters():
            p.requires_grad_(False)
    if train:
        for n, p in model.named_parameters():
            if re.search(train, n):
                p.requires_grad_(True)
    if freeze:
        for n, p in model.named_parameters():
            if re.search(freeze, n):
                p.requires_grad_(False)
    if lora_rank:
        targets = re.compile(lora_targets or DEFAULT_LORA_TARGETS)
        chosen = [(n, m) for n, m in model.named_modules()
                  if targets.search(n) and getattr(m, "weight", None) is not None and m.weight.dim() == 2]
        for n, m in chosen:
            parent = model.get_submodule(n.rsplit(".", 1)[0]) if "." in n else model
            setattr(parent, n.rsplit(".", 1)[-1], LoraLayer(m, lora_rank))
    return model


def build(name, batch, seq_len, class_name=None):
    """The model and its input: torchvision by name, or transformers' GPT-2 / BERT from their configs."""
    if name == "baseline":
        model = torch.nn.Linear(1, 1, bias=False)
        x = torch.ones(batch, 1)
        return model, lambda m: m(x)
    if name in ("gpt2", "bert-base-uncased", "gpt2-nodropout"):
        import transformers
        if name.startswith("gpt2"):
            cfg = transformers.GPT2Config()
            if name == "gpt2-nodropout":
                cfg.resid_pdrop = cfg.embd_pdrop = cfg.attn_pdrop = 0.0
            model = transformers.GPT2LMHeadModel(cfg)
        else:
            model = transformers.BertModel(transformers.BertConfig())
        ids = torch.zeros(batch, seq_len, dtype=torch.long)

        def forward(m):
            # GPT-2 trains as a language model: the loss inside the forward (labels = the ids), so the
            # float32 log-probabilities the cross-entropy keeps are counted, as in real training.
            if name.startswith("gpt2"):
                return m(input_ids=ids, labels=ids).loss
            return m(input_ids=ids).last_hidden_state
        return model, forward
    if name.startswith("hf:"):
        # A Hugging Face folder's config, random weights in float32, sdpa attention (CPU's default),
        # as the class the config names (or --class): a model with a loss (a causal or masked LM,
        # a classifier) computes it inside the forward (labels = the ids, or class 0), so the logits
        # and the float32 log-probabilities the loss keeps are in the saved bytes, as the formula
        # counts them; a bare encoder (BertModel) gives its last hidden state.
        import transformers
        cfg = transformers.AutoConfig.from_pretrained(name[3:])
        cfg.dtype = torch.float32
        named = class_name or (cfg.architectures or [None])[0]
        if named is None:
            named = "BertModel" if cfg.model_type == "bert" else None
        cls = getattr(transformers, named) if named else transformers.AutoModelForCausalLM
        model = cls._from_config(cfg, dtype=torch.float32)
        ids = torch.zeros(batch, seq_len, dtype=torch.long)
        labels = torch.zeros(batch, dtype=torch.long) if "SequenceClassification" in cls.__name__ else ids

        def forward(m):
            out = m(input_ids=ids, labels=labels) if has_loss(cls) else m(input_ids=ids)
            return out.loss if has_loss(cls) else out.last_hidden_state
        return model, forward
    import torchvision
    model = getattr(torchvision.models, name)()
    size = 299 if name == "inception_v3" else 224
    x = torch.zeros(batch, 3, size, size)

    def forward(m):
        out = m(x)
        return out.logits if hasattr(out, "logits") else out
    return model, forward


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--cross-entropy", action="store_true")
    ap.add_argument("--input-size", action="append", default=[],
                    help="a TorchScript file's input, N,C,H,W (repeat for several inputs)")
    ap.add_argument("--dtype", action="append", default=[], help="f32 (default), i64 or i32, per input")
    ap.add_argument("--ids-rows", type=int, default=2, help="integer inputs: ids 1..ROWS-1")
    ap.add_argument("--cold", action="store_true",
                    help="no warm-up step before the baseline: the first step's one-time costs counted")
    ap.add_argument("--lora-rank", type=int, default=0, help="LoRA adapters of this rank (the base frozen)")
    ap.add_argument("--lora-targets", help="module paths LoRA adapts (tchinfo's default: attention's q, k, v, o)")
    ap.add_argument("--train", help="train only the parameters whose full name matches")
    ap.add_argument("--freeze", help="freeze the parameters whose full name matches")
    ap.add_argument("--class", dest="class_name", help="a Hugging Face folder: the transformers class to build")
    ap.add_argument("--baseline", action="store_true",
                    help="an empty step (one parameter, batch × 1 input); with --cold, a first step's one-time costs")
    args = ap.parse_args()
    torch.manual_seed(0)
    # The library that builds the model is imported before the baseline is read: its Python modules'
    # anonymous memory (tens of MiB for transformers) is the program's, not the training step's.
    if args.model in ("gpt2", "gpt2-nodropout", "bert-base-uncased") or args.model.startswith("hf:"):
        import transformers  # noqa: F401
    elif not args.baseline and not args.model.endswith(".pt"):
        import torchvision  # noqa: F401
    if not args.cold:
        warm_up()
    base = rss_bytes("VmRSS")
    base_anon = rss_bytes("RssAnon")
    if args.baseline:
        args.model = "baseline"
    if args.model.endswith(".pt"):
        sizes = [[int(d) for d in s.split(",")] for s in args.input_size]
        model, forward = build_torchscript(args.model, args.batch, sizes, args.dtype or ["f32"], args.ids_rows)
    else:
        model, forward = build(args.model, args.batch, args.seq_len, args.class_name)
    finetune(model, args.lora_rank, args.lora_targets, args.train, args.freeze)
    model.train()
    params = list(model.parameters())
    # Parameters, buffers and a file's code constants are the model's state, there before the step: not
    # what the step holds for backward (tchinfo's counting allocator sees only what the step allocates).
    state_storages = {t.untyped_storage().data_ptr() for t in list(model.parameters()) + list(model.buffers())}
    if isinstance(model, torch.jit.ScriptModule):
        state_storages |= code_constants(model)
    trained = [p for p in params if p.requires_grad]
    opt = torch.optim.Adam(trained, lr=1e-4)

    def loss_of(out):
        if out.dim() == 0:
            return out
        if args.cross_entropy:
            logits = out.reshape(-1, out.shape[-1]).float()
            return torch.nn.functional.cross_entropy(
                logits, torch.zeros(logits.shape[0], dtype=torch.long))
        return out.float().mean()

    # Saved tensors of the model's forward, deduplicated by storage, parameters and buffers left out.
    seen = {}

    def pack(t):
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr not in state_storages and ptr not in seen:
            seen[ptr] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = forward(model)
    saved = sum(seen.values())
    loss = loss_of(out)
    del out
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    del loss

    reset_high_water_mark()
    loss = loss_of(forward(model))
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    del loss
    high = rss_bytes("VmHWM")
    peak_rss = high - base
    # The high-water mark holds the file-backed pages resident then; code pages stay once faulted in.
    peak = high - rss_bytes("RssFile") - rss_bytes("RssShmem") - base_anon
    n = sum(p.numel() for p in params)
    print(json.dumps({
        "model": args.model,
        "batch": args.batch,
        "seq_len": args.seq_len if args.model in ("gpt2", "gpt2-nodropout", "bert-base-uncased")
        or args.model.startswith("hf:") else None,
        "params": n,
        "trainable_params": sum(p.numel() for p in trained),
        "saved_bytes": saved,
        "peak_bytes": peak,
        "peak_rss_bytes": peak_rss,
        "state_bytes": 4 * n + 12 * sum(p.numel() for p in trained),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
