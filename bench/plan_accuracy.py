#!/usr/bin/env python3
"""`tchinfo plan` against real PyTorch training steps: for each model and batch, runs
models/measure_training.py (saved-tensor bytes and the measured peak of a steady-state Adam step, CPU)
and `tchinfo plan --device cpu --format json` (a plan for a CPU process, as the measured one is), and
prints the Markdown error table that goes in BENCHMARKS.md, beside what torchinfo's "Estimated Total
Size" (bench/torchinfo_estimate.py) and `accelerate estimate-memory`'s "Training using Adam"
(bench/accelerate_estimate.py) answer for the same model and input.

    python3 bench/plan_accuracy.py [--python /work/venv/bin/python] [--only resnet50] [--log runs.jsonl]
    python3 bench/plan_accuracy.py --from-log runs.jsonl     # the table again, nothing rerun

Each row's figures also go to stderr (and --log) as one JSON line, which --from-log reads back.
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
    # tchinfo prints one indented document; the Python scripts one line after any warnings.
    return json.loads(out if out.startswith("{") else out.splitlines()[-1])


def measure(args, model, b, accelerate):
    measured = run_json([args.python, "models/measure_training.py", model, "--batch", str(b)])
    cmd = [args.tchinfo, "plan", model, "--batch-size", str(b), "--device", "cpu", "--format", "json"]
    if model in LANGUAGE:
        cmd += ["--seq-len", "128"]  # on a CPU with dropout, eager attention by default
    planned = run_json(cmd)
    est = run_json([args.python, "bench/torchinfo_estimate.py", model, "--batch", str(b)])
    return {"model": model, "batch": b, "measured": measured, "planned_held": planned["activations_bytes"],
            "planned_peak": planned["total_bytes"], "path": planned["activations"]["source"],
            "torchinfo": est, "accelerate": accelerate}


def table(records):
    err = lambda p, m: f"{(p - m) * 100 / m:+.1f}%"
    print("| model | batch | plan's path | saved for backward (PyTorch) | held (tchinfo) | error | "
          "step peak (PyTorch, anonymous RSS) | peak (tchinfo, --device cpu) | error | peak growth per "
          "sample (PyTorch / tchinfo) | torchinfo's Estimated Total Size | error | accelerate's "
          "Training using Adam | error |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    first = {}
    for r in records:
        name = r["model"] + (" ×128 tokens" if r["model"] in LANGUAGE else "")
        saved, peak = r["measured"]["saved_bytes"], r["measured"]["peak_bytes"]
        held, planned = r["planned_held"], r["planned_peak"]
        torchinfo = r["torchinfo"]["total_bytes"]
        growth = ""
        if name in first:
            b0, m0, p0 = first[name]
            gm, gp = (peak - m0) / (r["batch"] - b0) / MIB, (planned - p0) / (r["batch"] - b0) / MIB
            growth = f"{gm:.1f} / {gp:.1f} MiB" + (f" ({(gp - gm) * 100 / gm:+.1f}%)" if gm > 1 and gp > 0 else "")
        else:
            first[name] = (r["batch"], peak, planned)
        acc = r.get("accelerate")
        acc_cells = (f"{acc['training_bytes'] / MIB:.1f} MiB | {err(acc['training_bytes'], peak)}"
                     if acc else "- | -")
        print(f"| {name} | {r['batch']} | {r.get('path', 'formula' if r['model'] in LANGUAGE else 'measured')} | {saved / MIB:.1f} MiB | {held / MIB:.1f} MiB | "
              f"{err(held, saved)} | {peak / MIB:.1f} MiB | {planned / MIB:.1f} MiB | {err(planned, peak)} | "
              f"{growth} | {torchinfo / MIB:.1f} MiB | {err(torchinfo, peak)} | {acc_cells} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--tchinfo", default=os.path.join(ROOT, "target/release/tchinfo"))
    ap.add_argument("--only", action="append")
    ap.add_argument("--log", help="append each row's JSON line to this file too")
    ap.add_argument("--from-log", help="print the table from a log of earlier runs, running nothing")
    args = ap.parse_args()
    if args.from_log:
        with open(args.from_log) as f:
            records = [json.loads(line) for line in f if line.startswith("{")]
        missing = sorted({r["model"] for r in records if not r.get("accelerate")})
        if missing:
            # accelerate's figure does not depend on the batch: computed once per model.
            out = subprocess.run([args.python, "bench/accelerate_estimate.py", *missing], check=True,
                                 capture_output=True, text=True, cwd=ROOT).stdout
            found = {d["model"]: d for d in map(json.loads, filter(None, out.splitlines()))}
            for r in records:
                r.setdefault("accelerate", found.get(r["model"]))
        table(records)
        return
    records = []
    for model, batches in CASES:
        if args.only and model not in args.only:
            continue
        accelerate = run_json([args.python, "bench/accelerate_estimate.py", model])
        for b in batches:
            r = measure(args, model, b, accelerate)
            records.append(r)
            line = json.dumps(r)
            print(line, file=sys.stderr, flush=True)
            if args.log:
                with open(args.log, "a") as f:
                    f.write(line + "\n")
    table(records)


if __name__ == "__main__":
    main()
