#!/usr/bin/env python3
"""What torchinfo's "Estimated Total Size" answers for one of bench/plan_accuracy.py's runs: the same
model and input as models/measure_training.py builds, through torchinfo.summary(..., verbose=0), and
the sum torchinfo itself prints (input size + forward/backward pass size + params size), in bytes.

    python3 bench/torchinfo_estimate.py MODEL --batch B [--seq-len 128]
"""
import argparse
import json
import os
import sys

import torch
import torchinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))
from measure_training import build  # noqa: E402  (the same model the measured run builds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=128)
    args = ap.parse_args()
    torch.manual_seed(0)
    model, _ = build(args.model, args.batch, args.seq_len)
    if args.model in ("gpt2", "gpt2-nodropout", "bert-base-uncased"):
        data = {"input_ids": torch.zeros(args.batch, args.seq_len, dtype=torch.long)}
        stats = torchinfo.summary(model, input_data=data, verbose=0)
    else:
        size = 299 if args.model == "inception_v3" else 224
        stats = torchinfo.summary(model, input_size=(args.batch, 3, size, size), verbose=0)
    total = stats.total_input + stats.total_output_bytes + stats.total_param_bytes
    print(json.dumps({"model": args.model, "batch": args.batch, "input_bytes": stats.total_input,
                      "forward_backward_bytes": stats.total_output_bytes,
                      "param_bytes": stats.total_param_bytes, "total_bytes": total}))


if __name__ == "__main__":
    main()
