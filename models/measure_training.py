#!/usr/bin/env python3
"""Ground truth for `tchinfo plan`: real PyTorch training steps on CPU, measured.

For a model at a batch it prints one JSON line:
- saved_bytes: bytes autograd saves for backward during the model's forward (training mode), through
  torch.autograd.graph.saved_tensors_hooks, deduplicated by storage and leaving the parameters out;
- peak_bytes: the resident-set high-water mark of a steady-state Adam step (forward, backward,
  optimizer step, zero_grad(set_to_none=True)), in anonymous memory (the file-backed part — libtorch's
  code pages, faulted in by the first step's kernels — taken out), above the anonymous memory before the
  model was built; the first step is run unmeasured so the optimizer state exists, then the mark is
  reset (/proc/self/clear_refs) and a second step measured. Run under MALLOC_MMAP_THRESHOLD_=65536 (the
  script re-executes itself with it) so freed blocks go back to the kernel and the mark is the step's
  own. peak_rss_bytes is the same mark with the code pages left in;
- state_bytes: weights + gradients + Adam's state, 16 B per parameter.

The loss is the mean of the output (as tchinfo's measuring run), or with --cross-entropy a real
cross-entropy against zero labels. Usage:
    python models/measure_training.py resnet50 --batch 8
    python models/measure_training.py gpt2 --batch 2 --seq-len 128
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


def build(name, batch, seq_len):
    """The model and its input: torchvision by name, or transformers' GPT-2 / BERT from their configs."""
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
            out = m(input_ids=ids)
            return out.logits if hasattr(out, "logits") else out.last_hidden_state
        return model, forward
    if name.startswith("hf:"):
        # A Hugging Face folder's config, random weights in float32, sdpa attention (CPU's default):
        # a causal LM computes its loss inside the forward (labels = the ids), so the logits and the
        # float32 log-probabilities the loss keeps are in the saved bytes, as the formula counts them.
        import transformers
        cfg = transformers.AutoConfig.from_pretrained(name[3:])
        cfg.dtype = torch.float32
        causal = cfg.model_type != "bert"
        cls = transformers.AutoModelForCausalLM if causal else transformers.AutoModel
        model = cls.from_config(cfg, dtype=torch.float32)
        ids = torch.zeros(batch, seq_len, dtype=torch.long)

        def forward(m):
            if causal:
                return m(input_ids=ids, labels=ids).loss
            return m(input_ids=ids).last_hidden_state
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
    args = ap.parse_args()
    torch.manual_seed(0)
    base = rss_bytes("VmRSS")
    base_anon = rss_bytes("RssAnon")
    model, forward = build(args.model, args.batch, args.seq_len)
    model.train()
    params = list(model.parameters())
    param_storages = {p.untyped_storage().data_ptr() for p in params}
    opt = torch.optim.Adam(params, lr=1e-4)

    def loss_of(out):
        if out.dim() == 0:
            return out
        if args.cross_entropy:
            logits = out.reshape(-1, out.shape[-1]).float()
            return torch.nn.functional.cross_entropy(
                logits, torch.zeros(logits.shape[0], dtype=torch.long))
        return out.float().mean()

    # Saved tensors of the model's forward, deduplicated by storage, parameters left out.
    seen = {}

    def pack(t):
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr not in param_storages and ptr not in seen:
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
        "saved_bytes": saved,
        "peak_bytes": peak,
        "peak_rss_bytes": peak_rss,
        "state_bytes": 16 * n,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
