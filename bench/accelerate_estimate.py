#!/usr/bin/env python3
"""What `accelerate estimate-memory` answers for a model, as one JSON line per model: its own
`calculate_maximum_sizes` and `estimate_training_usage` (the CLI needs the Hub for a name, so they are
called on the model here), and the figure the CLI prints as "Training using Adam" (the largest of the
usage's parts: 4 × the float32 size, whatever the batch).

    python3 bench/accelerate_estimate.py MODEL_OR_FOLDER...

MODEL is a name models/measure_training.py builds (torchvision's, gpt2, bert-base-uncased: the same
model the measured run trains); FOLDER a Hugging Face folder (an empty model from its config.json).
"""
import json
import os
import sys

import torch
from accelerate import init_empty_weights
from accelerate.commands.estimate import estimate_training_usage
from accelerate.utils import calculate_maximum_sizes

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))
from measure_training import build  # noqa: E402  (the same model the measured run builds)


def model_of(name):
    if os.path.isdir(name):
        import transformers
        cfg = transformers.AutoConfig.from_pretrained(name)
        # The class the config names, as models/measure_training.py builds it.
        cls = getattr(transformers, (cfg.architectures or ["AutoModelForCausalLM"])[0])
        with init_empty_weights():
            return cls._from_config(cfg, dtype=torch.float32)
    return build(name, 1, 8)[0]


def main():
    for name in sys.argv[1:]:
        total, largest = calculate_maximum_sizes(model_of(name))
        usage = estimate_training_usage(total, "float32")
        print(json.dumps({"model": name, "total_bytes": total, "largest_layer_bytes": largest[0],
                          "training_usage": usage, "training_bytes": max(usage.values())}), flush=True)


if __name__ == "__main__":
    main()
