#!/usr/bin/env python3
"""`tchinfo plan` against real PyTorch training steps: for each model and batch, runs
models/measure_training.py (saved-tensor bytes and the measured peak of a steady-state Adam step, CPU)
and `tchinfo plan --format json`, and prints the Markdown error table that goes in BENCHMARKS.md, beside
what torchinfo's "Estimated Total Size" answers for the same model and input (bench/torchinfo_estimate.py).

    python3 bench/plan_accuracy.py [--python /work/venv/bin/python] [--only resnet50]
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [
    ("resnet50", [1, 4, 8]),
    ("vgg16", [1, 4, 8]),
    ("mobilenet_v2", [1, 4, 8]),
    ("efficientnet_b0", [1, 4, 8]),
    ("alexnet", [1, 4, 8]),
    ("vit_b_16", [1, 4, 8]),
    ("gpt2", [1, 2, 4]),
    ("bert-base-uncased", [1, 2, 4]),
]
LANGUAGE = {"gpt2", "bert-base-uncased"}
MIB = 2 ** 20


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    # tchinfo prints one indented document; measure_training.py one line after any warnings.
    return json.loads(out if out.startswith("{") else out.splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--tchinfo", default=os.path.join(ROOT, "target/release/tchinfo"))
    ap.add_argument("--only", action="append")
    args = ap.parse_args()
    rows = []
    for model, batches in CASES:
        if args.only and model not in args.only:
            continue
        for b in batches:
            measured = run_json([args.python, "models/measure_training.py", model, "--batch", str(b)])
            # The ground truth is a CPU process: the plan for a CPU (its runtime, float dropout masks).
            cmd = [args.tchinfo, "plan", model, "--batch-size", str(b), "--device", "cpu",
                   "--format", "json"]
            if model in LANGUAGE:
                cmd += ["--seq-len", "128", "--attention", "eager"]
            planned = run_json(cmd)
            est = run_json([args.python, "bench/torchinfo_estimate.py", model, "--batch", str(b)])
            torchinfo_total = est["total_bytes"]
            held, peak = planned["activations_bytes"], planned["total_bytes"]
            err = lambda p, m: f"{(p - m) * 100 / m:+.1f}%"
            row = (model + (" ×128 tokens" if model in LANGUAGE else ""), b,
                   planned["activations"]["source"],
                   measured["saved_bytes"] / MIB, held / MIB, err(held, measured["saved_bytes"]),
                   measured["peak_bytes"] / MIB, peak / MIB, err(peak, measured["peak_bytes"]),
                   torchinfo_total / MIB, err(torchinfo_total, measured["peak_bytes"]))
            rows.append(row)
            print(json.dumps({"model": model, "batch": b, "measured": measured, "planned_held": held,
                              "planned_peak": peak, "torchinfo": est}), file=sys.stderr, flush=True)
    print("| model | batch | plan's path | saved for backward (PyTorch) | held (tchinfo) | error | "
          "step peak (PyTorch, anonymous RSS) | peak (tchinfo) | error | peak growth per sample "
          "(PyTorch / tchinfo) | torchinfo's Estimated Total Size | error |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    first = {}
    for r in rows:
        growth = ""
        if r[0] in first:
            b0, m0, p0 = first[r[0]]
            gm, gp = (r[6] - m0) / (r[1] - b0), (r[7] - p0) / (r[1] - b0)
            growth = f"{gm:.1f} / {gp:.1f} MiB ({(gp - gm) * 100 / gm:+.1f}%)" if gm > 0 else "-"
        else:
            first[r[0]] = (r[1], r[6], r[7])
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} MiB | {r[4]:.1f} MiB | {r[5]} | {r[6]:.1f} MiB | "
              f"{r[7]:.1f} MiB | {r[8]} | {growth} | {r[9]:.1f} MiB | {r[10]} |")


if __name__ == "__main__":
    main()
