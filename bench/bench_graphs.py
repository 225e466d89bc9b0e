#!/usr/bin/env python3
"""Recorded graphs: tchinfo reading a torch.export `.pt2` (or ONNX) file against torchinfo on the same model.

    python3 bench/bench_graphs.py [--runs 5] [--no-python]

tchinfo prints the full table — every module, its output shape, parameters and operator mult-adds — from the
file alone (`tchinfo summary FILE --depth 99`): nothing runs and no weight is read. torchinfo needs the model
in Python, its weights and a forward pass (`torchinfo.summary(model, input_data=…, depth=99)`).

Uses the throwaway virtual environment of bench/bench.py (~/.cache/tchinfo/bench-venv, or
TCHINFO_BENCH_VENV), adding transformers to it. Exports (once) into models/large/ (git-ignored), with random
weights and a dynamic batch dimension at an example batch of 2:
- resnet50.pt2 — torchvision's ResNet-50 (25.6 M parameters, 103 MB), 2×3×224×224;
- bert_base.pt2 — a BERT-base-sized transformers BertModel (BertConfig() defaults: 12 layers, hidden 768,
  110 M parameters, 439 MB), 2×128 token ids;
- resnet50.onnx (+ .onnx.data) — the same ResNet-50 through torch.onnx.export with its defaults.
Builds tchinfo in release mode, runs each case alternately tchinfo / Python and prints a Markdown table of
median wall time and median peak RSS. tchinfo's peak RSS is its own (measured through /usr/bin/time, whose
small process it is forked from); Python's is from wait4.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the venv, the build and the whole-process measure)

ROOT = bench.ROOT
LARGE = bench.LARGE
TCHINFO = bench.TCHINFO
PY = bench.PY
TRANSFORMERS = "transformers==5.24.0"

EXPORT = """
import sys, warnings, torch, torchvision
from transformers import BertConfig, BertModel
warnings.filterwarnings("ignore")
torch.manual_seed(0)
out = sys.argv[1]
batch = torch.export.Dim("batch")
resnet = torchvision.models.resnet50().eval()
x = torch.randn(2, 3, 224, 224)
torch.export.save(torch.export.export(resnet, (x,), dynamic_shapes={"x": {0: batch}}), f"{out}/resnet50.pt2")
torch.onnx.export(resnet, (x,), f"{out}/resnet50.onnx", dynamic_shapes={"x": {0: batch}})
bert = BertModel(BertConfig()).eval()
ids = torch.randint(0, 30522, (2, 128))
torch.export.save(torch.export.export(bert, (ids,), dynamic_shapes=({0: batch},)), f"{out}/bert_base.pt2")
"""

TORCHINFO_RESNET = """
import torch, torchvision, torchinfo
torchinfo.summary(torchvision.models.resnet50(), input_size=(2, 3, 224, 224), depth=99, verbose=1)
"""
TORCHINFO_BERT = """
import torch, torchinfo
from transformers import BertConfig, BertModel
m = BertModel(BertConfig())
torchinfo.summary(m, input_data=torch.randint(0, 30522, (2, 128)), depth=99, verbose=1)
"""


def ensure_python():
    bench.ensure_venv()
    if subprocess.run([str(PY), "-c", "import transformers"], capture_output=True).returncode != 0:
        subprocess.run([str(PY), "-m", "pip", "install", "--quiet", TRANSFORMERS], check=True)


def ensure_models():
    LARGE.mkdir(parents=True, exist_ok=True)
    wanted = ["resnet50.pt2", "bert_base.pt2", "resnet50.onnx"]
    if not all((LARGE / f).exists() for f in wanted):
        subprocess.run([str(PY), "-c", EXPORT, str(LARGE)], check=True)


def measure_own(cmd):
    """Wall seconds and the command's own peak RSS (bytes), through /usr/bin/time when there is one."""
    timer = shutil.which("time") or "/usr/bin/time"
    if not os.path.exists(timer):
        return bench.measure(cmd)
    start = time.perf_counter()
    proc = subprocess.run([timer, "-f", "%M", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(map(str, cmd))}\n{proc.stderr.decode(errors='replace')}")
    kib = int(proc.stderr.decode().strip().splitlines()[-1])
    return wall, kib * 1024


def cases():
    table = ["summary", "--depth", "99"]
    return [
        ("ResNet-50 .pt2 (103 MB), every module's output shape",
         [TCHINFO, *table, LARGE / "resnet50.pt2"], [PY, "-c", TORCHINFO_RESNET]),
        ("BERT-base .pt2 (439 MB, 2×128 tokens), every module's output shape",
         [TCHINFO, *table, LARGE / "bert_base.pt2"], [PY, "-c", TORCHINFO_BERT]),
        ("ResNet-50 ONNX (torch.onnx defaults: weights in .onnx.data), batch 2",
         [TCHINFO, *table, LARGE / "resnet50.onnx", "--batch-size", "2"], [PY, "-c", TORCHINFO_RESNET]),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-python", action="store_true", help="time tchinfo only (the models must exist)")
    args = ap.parse_args()

    subprocess.run(["make", "build"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    if not args.no_python:
        ensure_python()
        ensure_models()
    print(f"| case ({os.cpu_count()} CPUs, median of {args.runs} runs) | tchinfo wall | tchinfo peak RSS "
          "| torchinfo wall | torchinfo peak RSS | wall ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ours, theirs in cases():
        ours_runs, theirs_runs = [], []
        for _ in range(args.runs):
            ours_runs.append(measure_own([str(c) for c in ours]))
            if not args.no_python:
                theirs_runs.append(bench.measure([str(c) for c in theirs]))
        ow = statistics.median(r[0] for r in ours_runs)
        orss = statistics.median(r[1] for r in ours_runs)
        if theirs_runs:
            tw = statistics.median(r[0] for r in theirs_runs)
            trss = statistics.median(r[1] for r in theirs_runs)
            print(f"| {name} | {ow * 1000:.0f} ms | {orss / 2**20:.1f} MiB | {tw:.3f} s | {trss / 2**20:.0f} MiB "
                  f"| {tw / ow:.0f}× |")
        else:
            print(f"| {name} | {ow * 1000:.0f} ms | {orss / 2**20:.1f} MiB | – | – | – |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
