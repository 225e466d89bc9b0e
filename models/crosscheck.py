#!/usr/bin/env python3
"""Cross-check tchinfo against PyTorch on torchvision models the tests do not cover.

    /path/to/venv/bin/python models/crosscheck.py [--out DIR] [MODEL ...]

For each torchvision model: save it with torch.jit.script (or torch.jit.trace when scripting fails), run
`tchinfo FILE --input-size ... --format json`, and compare with eager PyTorch: parameter count (tied counted
once), trainable count, buffer elements, every module's output shapes from forward hooks (first call), and
torchinfo 1.8's total mult-adds and forward/backward pass size. `--trace` saves with torch.jit.trace instead.
Needs torch 2.13.0, torchvision 0.28 and torchinfo 1.8.0 (see models/export.py for a throwaway venv). Prints one line per model
and exits 1 if anything differs.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
import torchinfo
import torchvision

ROOT = Path(__file__).resolve().parent.parent
TCHINFO = ROOT / "target" / "release" / "tchinfo"
DEFAULT = ["mobilenet_v3_large", "efficientnet_v2_s", "regnet_y_400mf", "shufflenet_v2_x1_0", "mnasnet0_5",
           "convnext_tiny", "vit_b_16", "swin_t", "googlenet", "inception_v3", "densenet121", "resnext50_32x4d"]


def shapes_of(value):
    if isinstance(value, torch.Tensor):
        return [list(value.shape)]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in shapes_of(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in shapes_of(v)]
    return []


def eager(model, x):
    seen = {}
    hooks = []
    for name, module in model.named_modules():
        def hook(_m, _i, out, name=name):
            seen.setdefault(name, shapes_of(out))
        hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    params = {id(p): p for p in model.parameters()}
    return {
        "params": sum(p.numel() for p in params.values()),
        "trainable": sum(p.numel() for p in params.values() if p.requires_grad),
        "buffers": sum(b.numel() for b in model.buffers()),
        "shapes": seen,
    }


def save(model, x, path, trace):
    if trace:
        torch.jit.save(torch.jit.trace(model, x, check_trace=False), path)
        return "trace"
    try:
        torch.jit.save(torch.jit.script(model), path)
        return "script"
    except Exception:
        torch.jit.save(torch.jit.trace(model, x, check_trace=False), path)
        return "trace"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT)
    ap.add_argument("--out", default="/tmp/tchinfo-crosscheck")
    ap.add_argument("--trace", action="store_true", help="save with torch.jit.trace")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = False
    for name in args.models:
        size = 299 if name == "inception_v3" else 224
        # Default arguments, auxiliary classifiers included; init_weights=False only skips a slow init.
        kwargs = {"init_weights": False} if name in ("googlenet", "inception_v3") else {}
        model = getattr(torchvision.models, name)(**kwargs).eval()
        x = torch.zeros(1, 3, size, size)
        truth = eager(model, x)
        path = out / f"{name}.pt"
        how = save(model, x, path, args.trace)
        stats = torchinfo.summary(model, input_data=x, verbose=0)
        truth["mult_adds"] = stats.total_mult_adds
        truth["torchinfo_bytes"] = stats.total_output_bytes
        run = subprocess.run([str(TCHINFO), str(path), "--input-size", f"1,3,{size},{size}", "--format", "json"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{name} ({how}): tchinfo failed: {run.stderr.strip()}")
            failed = True
            continue
        doc = json.loads(run.stdout)
        problems = []
        for key, ours in [("params", doc["totals"]["params"]), ("trainable", doc["totals"]["trainable_params"]),
                          ("buffers", doc["totals"]["buffers"]), ("mult_adds", doc["totals"]["mult_adds"]),
                          ("torchinfo_bytes", doc["memory"]["activations"]["torchinfo_forward_backward_bytes"])]:
            if ours != truth[key]:
                problems.append(f"{key} {ours} != {truth[key]}")
        modules = {m["path"]: m for m in doc["modules"]}
        shape_diffs = []
        for path_, shapes in truth["shapes"].items():
            m = modules.get(path_)
            if m is None:
                shape_diffs.append(f"{path_ or '<root>'} missing")
                continue
            ours = [o["shape"] for o in (m["outputs"] or [])]
            if ours != shapes:
                shape_diffs.append(f"{path_ or '<root>'} {ours} != {shapes}")
        if shape_diffs:
            problems.append(f"{len(shape_diffs)} module shapes differ, e.g. {shape_diffs[:3]}")
        status = "ok" if not problems else "; ".join(problems)
        failed |= bool(problems)
        print(f"{name} ({how}): {doc['totals']['params']:,} params, {len(truth['shapes'])} modules: {status}")
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
