#!/usr/bin/env python3
"""`tchinfo plan` on a 70B-class checkpoint read header-only (issue 15's bar: ≤ 50 ms).

    python3 bench/plan_file_bench.py [--runs 20]

Writes (into a temporary folder, removed afterwards) the Llama-2-70B-like Hugging Face folder of
bench/safetensors_bench.py — config.json, 29 sparse bf16 shards (headers over holes), the index — and
the same shards without config.json (the architecture then comes from names and shapes), and times
`tchinfo plan FOLDER --seq-len 4096 --batch-size 8 --gpus 8 --zero 3 --checkpointing full` and the same
with `--lora-rank 16`, each run a fresh process, by wall clock (time.perf_counter around the process).
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_bench import MODELS, TCHINFO, write_checkpoint  # noqa: E402

PLAN = ["--seq-len", "4096", "--batch-size", "8", "--gpus", "8", "--zero", "3", "--checkpointing", "full"]


def wall_ms(argv, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True)
        times.append((time.perf_counter() - t) * 1000)
        if out.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed: {out.stderr}")
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    spec = next(m for m in MODELS if m[0] == "llama-2-70b-like")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / spec[0]
        total, shards, count = write_checkpoint(folder, spec)
        bare = Path(tmp) / "no-config"
        bare.mkdir()
        for f in folder.iterdir():
            if f.name != "config.json":
                (bare / f.name).symlink_to(f)
        print(f"{spec[0]}: {shards} shards, {count} tensors, {total / 1e9:.1f} GB of bf16\n")
        print(f"`tchinfo plan FOLDER {' '.join(PLAN)}`, {args.runs} runs:\n")
        print("| FOLDER | median | fastest |")
        print("|---|---|---|")
        for label, target, extra in [
            ("folder with config.json", folder, []),
            ("folder with config.json, --lora-rank 16", folder, ["--lora-rank", "16"]),
            ("shards without config.json (names and shapes)", bare, []),
        ]:
            med, best = wall_ms([str(TCHINFO), "plan", str(target), *PLAN, *extra], args.runs)
            print(f"| {label} | {med:.1f} ms | {best:.1f} ms |")


if __name__ == "__main__":
    main()
