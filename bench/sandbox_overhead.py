#!/usr/bin/env python3
"""What the sandbox costs: `tchinfo FILE --input-size ...` against the same command run unsandboxed.

    python3 bench/sandbox_overhead.py --base-bin DIR [--runs 21] [--model models/large/resnet50.scripted.pt]
    python3 bench/sandbox_overhead.py --base-commit 15f4d12 [...]

The unsandboxed side is tchinfo as it was before forward passes moved into the sandbox (commit 15f4d12:
the front binary hands the command to tchinfo-torch, which runs the forward in-process). Give its
binaries with --base-bin, or --base-commit to export that commit with `git archive` and build it into
target/bench-base (a full build: minutes). The sandboxed side is target/release (run `make build`
first). Both print the same table; runs alternate between the two so that a busy machine slows both
alike, and the script prints the median wall time of each, their difference, and the median of the
per-pair differences.

The model is models/large/resnet50.scripted.pt (written by `models/export.py --large`, git-ignored).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_base(commit):
    src = Path(tempfile.mkdtemp(prefix="tchinfo-bench-base-"))
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    target = ROOT / "target" / "bench-base"
    env = dict(os.environ)
    env.setdefault("LIBTORCH", str((ROOT / ".libtorch").resolve()))
    subprocess.run(
        ["cargo", "build", "--release", "--bins", "--target-dir", str(target)], cwd=src, env=env, check=True
    )
    return target / "release"


def wall(cmd):
    """Wall seconds and processor seconds (user + system, the sandboxed child included: the front
    waits for it) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if status != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed: {err}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-bin", type=Path, help="directory with the unsandboxed tchinfo binaries")
    parser.add_argument("--base-commit", help="build the unsandboxed binaries from this commit")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "large" / "resnet50.scripted.pt")
    parser.add_argument("--input-size", default="1,3,224,224")
    args = parser.parse_args()
    if args.base_bin is None and args.base_commit is None:
        parser.error("give --base-bin or --base-commit")
    base = args.base_bin or build_base(args.base_commit)
    if not args.model.exists():
        sys.exit(f"{args.model} is missing: run `python models/export.py --large` (PyTorch 2.13)")
    new = ROOT / "target" / "release" / "tchinfo"
    old = base / "tchinfo"
    tail = [str(args.model), "--input-size", args.input_size]
    # One warm-up each: the page cache holds libtorch and the model afterwards.
    wall([old, *tail])
    wall([new, *tail])
    olds, news = [], []
    for _ in range(args.runs):
        olds.append(wall([old, *tail]))
        news.append(wall([new, *tail]))
    med = statistics.median
    print(f"model {args.model.name}, --input-size {args.input_size}, {args.runs} alternating runs, medians")
    for what, i in [("wall time", 0), ("processor time (user + system)", 1)]:
        o, n = med(r[i] for r in olds), med(r[i] for r in news)
        paired = med(b[i] - a[i] for a, b in zip(olds, news))
        print(f"{what}: unsandboxed {o * 1000:.0f} ms, sandboxed {n * 1000:.0f} ms, "
              f"difference {(n - o) * 1000:+.0f} ms (paired {paired * 1000:+.0f} ms)")


if __name__ == "__main__":
    main()
