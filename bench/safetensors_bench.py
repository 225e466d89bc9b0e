#!/usr/bin/env python3
"""Header-only reading of sharded safetensors checkpoints: tchinfo against a Python header parse.

    python3 bench/safetensors_bench.py [--runs 20] [--keep]

Writes (into a temporary folder, removed afterwards unless --keep) three Hugging Face-style checkpoints with
the tensor names and shapes of Llama models, as `save_pretrained` lays them out — `config.json`, shards
`model-0000k-of-0000n.safetensors` of at most 5 GB, `model.safetensors.index.json` — in bfloat16. The shards
are sparse files: the header is written, the data is a hole of the right length, so a 140 GB checkpoint
costs a few hundred KB of disk and the reader cannot tell (it never reads the data).

Then, for each checkpoint, it runs alternately
- `tchinfo FOLDER` (the front binary, target/release/tchinfo: build it first), and
- a fresh `python3 -c` doing what `huggingface_hub.get_safetensors_metadata` does for a sharded repo, on
  the local files: read the index, read each shard's 8-byte length and JSON header, and total the
  parameters per dtype (huggingface_hub itself fetches the headers over HTTP and needs the Hub),
and prints a Markdown table of the median and fastest wall time and the peak resident set of each, from
`/usr/bin/time -f "%e %M"` (the process's own peak; /usr/bin/time is small, so its fork adds nothing). The
Python parse is also timed in-process, without the interpreter's start-up.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TCHINFO = ROOT / "target" / "release" / "tchinfo"
SHARD_BYTES = 5 * 10**9

# name, layers, hidden, intermediate, heads, kv heads, vocab
MODELS = [
    ("llama-1b-like", 16, 2048, 8192, 32, 8, 32000),
    ("llama-2-7b-like", 32, 4096, 11008, 32, 32, 32000),
    ("llama-2-70b-like", 80, 8192, 28672, 64, 8, 32000),
]

PYTHON_PARSE = r"""
import json, os, sys, time
t = time.perf_counter()
folder = sys.argv[1]
index = json.load(open(os.path.join(folder, "model.safetensors.index.json")))
counts = {}
for shard in sorted(set(index["weight_map"].values())):
    with open(os.path.join(folder, shard), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    for name, info in header.items():
        if name == "__metadata__":
            continue
        numel = 1
        for d in info["shape"]:
            numel *= d
        counts[info["dtype"]] = counts.get(info["dtype"], 0) + numel
print(counts, f"{(time.perf_counter() - t) * 1000:.2f} ms in-process", file=sys.stderr)
"""


def tensors(layers, hidden, inter, heads, kv, vocab):
    """The tensors of a Llama checkpoint as transformers names them, in bfloat16."""
    head_dim = hidden // heads
    out = [("model.embed_tokens.weight", [vocab, hidden]), ("model.norm.weight", [hidden]),
           ("lm_head.weight", [vocab, hidden])]
    for i in range(layers):
        p = f"model.layers.{i}"
        out += [
            (f"{p}.input_layernorm.weight", [hidden]),
            (f"{p}.post_attention_layernorm.weight", [hidden]),
            (f"{p}.self_attn.q_proj.weight", [hidden, hidden]),
            (f"{p}.self_attn.k_proj.weight", [kv * head_dim, hidden]),
            (f"{p}.self_attn.v_proj.weight", [kv * head_dim, hidden]),
            (f"{p}.self_attn.o_proj.weight", [hidden, hidden]),
            (f"{p}.mlp.gate_proj.weight", [inter, hidden]),
            (f"{p}.mlp.up_proj.weight", [inter, hidden]),
            (f"{p}.mlp.down_proj.weight", [hidden, inter]),
        ]
    return out


def write_checkpoint(folder, spec):
    """Shards of at most SHARD_BYTES in tensor order, each a real header over a sparse data hole."""
    name, layers, hidden, inter, heads, kv, vocab = spec
    folder.mkdir(parents=True)
    shards, current, size = [], [], 0
    for t in tensors(layers, hidden, inter, heads, kv, vocab):
        nbytes = 2
        for d in t[1]:
            nbytes *= d
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = [], 0
        current.append((t[0], t[1], nbytes))
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for k, shard in enumerate(shards, 1):
        file = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        # safetensors' writer orders the data by name within a dtype and pads the JSON to 8 bytes.
        for tname, shape, nbytes in sorted(shard):
            header[tname] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[tname] = file
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        with open(folder / file, "wb") as f:
            f.write(len(text).to_bytes(8, "little") + text)
            f.truncate(8 + len(text) + offset)  # a hole: no data written
        total += offset
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
    )
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": layers,
        "hidden_size": hidden, "intermediate_size": inter, "num_attention_heads": heads,
        "num_key_value_heads": kv, "vocab_size": vocab, "max_position_embeddings": 4096,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    }, indent=2))
    return total, len(shards), sum(len(s) for s in shards)


def timed(argv):
    """Wall seconds and peak KiB of one run, as /usr/bin/time measures them."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *argv], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{argv[0]} failed: {out.stderr}")
    wall, kib = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kib), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the checkpoints (printed path)")
    args = parser.parse_args()
    if not TCHINFO.exists():
        sys.exit(f"{TCHINFO} is missing: run `make build` (or cargo build --release) first")
    work = Path(tempfile.mkdtemp(prefix="tchinfo-st-bench-"))
    rows = []
    try:
        for spec in MODELS:
            folder = work / spec[0]
            total, nshards, ntensors = write_checkpoint(folder, spec)
            disk = sum(os.stat(p).st_blocks * 512 for p in folder.iterdir())
            ours, theirs, inproc = [], [], []
            for _ in range(args.runs):
                # perf_counter wall time (/usr/bin/time's %e has 10 ms resolution), its %M for the peak.
                t = time.perf_counter()
                _, kib, out = timed([str(TCHINFO), str(folder)])
                ours.append((time.perf_counter() - t, kib))
                t = time.perf_counter()
                _, pkib, pout = timed([sys.executable, "-c", PYTHON_PARSE, str(folder)])
                theirs.append((time.perf_counter() - t, pkib))
                inproc.append(float(pout.stderr.split(" ms in-process")[0].rsplit(" ", 1)[-1]))
            assert "Total params" in out.stdout, out.stdout
            params = next(l for l in out.stdout.splitlines() if l.startswith("Total params"))
            med = lambda xs: statistics.median(x[0] for x in xs) * 1000
            rows.append(
                f"| {spec[0]}: {nshards} shards, {ntensors} tensors, {total / 1e9:.1f} GB of bf16 "
                f"({disk / 1024:.0f} KiB on disk); {params.split(': ')[1]} params "
                f"| {med(ours):.1f} ms (fastest {min(x[0] for x in ours) * 1000:.1f}) "
                f"| {max(x[1] for x in ours) / 1024:.1f} MiB "
                f"| {med(theirs):.1f} ms ({statistics.median(inproc):.1f} ms in-process) "
                f"| {max(x[1] for x in theirs) / 1024:.1f} MiB |"
            )
            print(rows[-1], file=sys.stderr)
    finally:
        if args.keep:
            print(f"checkpoints kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work)
    print(f"| checkpoint (median of {args.runs} runs) | tchinfo wall | tchinfo peak RSS "
          "| Python header parse wall | Python peak RSS |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
