#!/usr/bin/env python3
"""Side-by-side benchmark: tchinfo against torchinfo, whole process, median of several runs.

    python3 bench/bench.py [--runs 5] [--only NAME ...] [--no-python]

Creates (once) a throwaway virtual environment with torch 2.13.0, torchvision 0.28, torchinfo 1.8.0 and
transformers 5.24.0 in
~/.cache/tchinfo/bench-venv (about 5 GB; override with TCHINFO_BENCH_VENV), exports the large models it needs
into models/large/ (git-ignored), builds tchinfo in release mode, then runs each case alternately
tchinfo / Python and prints a Markdown table of median wall time and median peak RSS (the process's own
maximum resident set, from wait4) with the ratio. Paste the table into BENCHMARKS.md.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LARGE = ROOT / "models" / "large"
VENV = Path(os.environ.get("TCHINFO_BENCH_VENV", Path.home() / ".cache" / "tchinfo" / "bench-venv"))
PY = VENV / "bin" / "python"
TCHINFO = ROOT / "target" / "release" / "tchinfo"
PINS = ["torch==2.13.0", "torchvision==0.28.0", "torchinfo==1.8.0", "transformers==5.24.0"]

# The Python side of each case, run as `python -c`: the same table torchinfo prints.
TORCHINFO_EAGER = """
import sys, torch, torchvision, torchinfo
m = getattr(torchvision.models, sys.argv[1])()
torchinfo.summary(m, input_size=(1, 3, 224, 224), verbose=1)
"""
TORCHINFO_EAGER_MANY = """
import sys, torch, torchvision, torchinfo
for name in sys.argv[1:]:
    m = getattr(torchvision.models, name)()
    torchinfo.summary(m, input_size=(1, 3, 224, 224), verbose=1)
"""
TORCHINFO_SCRIPT = """
import sys, torch, torchinfo
m = torch.jit.load(sys.argv[1])
torchinfo.summary(m, input_size=(1, 3, 224, 224), verbose=1)
"""
TORCHINFO_SCRIPT_NO_INPUT = """
import sys, torch, torchinfo
m = torch.jit.load(sys.argv[1])
torchinfo.summary(m, verbose=1)
"""

# GPT-2 as transformers builds it from its default config (gpt2's), random weights, on 1×128 token ids.
TORCHINFO_GPT2 = """
import torch, torchinfo, transformers
m = transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
torchinfo.summary(m, input_data=torch.zeros(1, 128, dtype=torch.long), use_cache=False, verbose=1)
"""

# A 3.2 GB TorchScript file: three Linear(16384, 16384), left uninitialised (values do not matter) and
# traced, since scripting needs source code that `python -c` does not have.
EXPORT_BIG = """
import sys, torch
layers = [torch.nn.utils.skip_init(torch.nn.Linear, 16384, 16384) for _ in range(3)]
m = torch.nn.Sequential(*layers)
with torch.no_grad():
    torch.jit.save(torch.jit.trace(m, torch.zeros(1, 16384)), sys.argv[1])
"""


def ensure_venv():
    if PY.exists():
        if subprocess.run([str(PY), "-c", "import transformers"], capture_output=True).returncode != 0:
            subprocess.run([str(PY), "-m", "pip", "install", "--quiet", PINS[-1]], check=True)
        return
    print(f"creating {VENV} with {' '.join(PINS)} (once, about 5 GB)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", *PINS], check=True)


def ensure_models():
    LARGE.mkdir(parents=True, exist_ok=True)
    if not (LARGE / "vgg16.scripted.pt").exists() or not (LARGE / "resnet50.scripted.pt").exists():
        subprocess.run([str(PY), str(ROOT / "models" / "export.py"), "--large"], check=True, cwd=ROOT)
    big = LARGE / "big_linear_3x16384.traced.pt"
    if not big.exists():
        subprocess.run([str(PY), "-c", EXPORT_BIG, str(big)], check=True)


def measure(cmd):
    """Wall seconds, peak RSS (bytes) and CPU seconds (user + system) of one whole-process run. On a
    busy machine the CPU time is the steadier figure: wall time then includes waiting for a core."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(map(str, cmd))}\n{err}")
    return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


COMPARED = ["vgg16", "resnet50", "vit_b_16", "convnext_tiny"]


def cases():
    vgg = LARGE / "vgg16.scripted.pt"
    r50 = LARGE / "resnet50.scripted.pt"
    big = LARGE / "big_linear_3x16384.traced.pt"
    return [
        ("vgg16 summary with shapes (built-in / eager)",
         [TCHINFO, "summary", "vgg16"], [PY, "-c", TORCHINFO_EAGER, "vgg16"]),
        ("resnet50 summary with shapes (built-in / eager)",
         [TCHINFO, "summary", "resnet50"], [PY, "-c", TORCHINFO_EAGER, "resnet50"]),
        ("vgg16 TorchScript structure (553 MB file)",
         [TCHINFO, "summary", vgg], [PY, "-c", TORCHINFO_SCRIPT_NO_INPUT, vgg]),
        ("vgg16 TorchScript with shapes, 1x3x224x224",
         [TCHINFO, "summary", vgg, "--input-size", "1,3,224,224"], [PY, "-c", TORCHINFO_SCRIPT, vgg]),
        ("resnet50 TorchScript structure",
         [TCHINFO, "summary", r50], [PY, "-c", TORCHINFO_SCRIPT_NO_INPUT, r50]),
        ("3 x Linear(16384, 16384) TorchScript structure (3.2 GB file)",
         [TCHINFO, "summary", big], [PY, "-c", TORCHINFO_SCRIPT_NO_INPUT, big]),
        # The built-in zoo (issue 17): four architectures side by side, each built and run at 224×224,
        # against torchinfo summarising the same four; and the zoo's list, which builds nothing.
        ("compare vgg16 resnet50 vit_b_16 convnext_tiny (built-in / eager)",
         [TCHINFO, "compare", *COMPARED], [PY, "-c", TORCHINFO_EAGER_MANY, *COMPARED]),
        ("list of the built-ins", [TCHINFO, "list"], None),
        ("gpt2 summary with shapes, 1x128 tokens (built-in / eager transformers)",
         [TCHINFO, "summary", "gpt2"], [PY, "-c", TORCHINFO_GPT2]),
        # tchinfo only: the Python side would need the 16 GB of weights (or meta tensors and a patched
        # causal mask, as models/transformers_reference.py does).
        ("Llama-3.1-8B summary at 1x4096 tokens, described from its config",
         [TCHINFO, "summary", "Llama-3.1-8B", "--seq-len", "4096"], None),
        ("compare vgg16 resnet50 gpt2",
         [TCHINFO, "compare", "vgg16", "resnet50", "gpt2"], None),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", nargs="*", help="substrings of case names to run")
    ap.add_argument("--no-python", action="store_true", help="time tchinfo only")
    args = ap.parse_args()

    subprocess.run(["make", "build"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    selected = [c for c in cases() if not args.only or any(s in c[0] for s in args.only)]
    if not args.no_python:
        ensure_venv()
    # The exported files are large (5 GB in all): made only when a selected case reads one.
    if any(isinstance(arg, Path) and LARGE in arg.parents for c in selected for arg in c[1]):
        ensure_models()
    env_note = f"{os.cpu_count()} CPUs, median of {args.runs} runs"
    print(
        f"| case ({env_note}) | tchinfo wall | tchinfo CPU | tchinfo peak RSS | torchinfo wall | "
        "torchinfo peak RSS | wall ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, ours, theirs in selected:
        ours_runs, theirs_runs = [], []
        for _ in range(args.runs):
            ours_runs.append(measure([str(c) for c in ours]))
            if theirs and not args.no_python:
                theirs_runs.append(measure([str(c) for c in theirs]))
        ow = statistics.median(r[0] for r in ours_runs)
        orss = statistics.median(r[1] for r in ours_runs)
        ocpu = statistics.median(r[2] for r in ours_runs)
        ours_cells = f"{ow:.3f} s | {ocpu:.3f} s | {orss / 2**20:.0f} MiB"
        if theirs_runs:
            tw = statistics.median(r[0] for r in theirs_runs)
            trss = statistics.median(r[1] for r in theirs_runs)
            print(f"| {name} | {ours_cells} | {tw:.3f} s | {trss / 2**20:.0f} MiB | {tw / ow:.1f}× |")
        else:
            print(f"| {name} | {ours_cells} | – | – | – |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
