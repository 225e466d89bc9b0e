#!/usr/bin/env python3
"""What `accelerate estimate-memory` answers for local Hugging Face folders (it needs the Hub for a name, so its
own functions are called on an empty model from the folder's config): python bench/accelerate_estimate.py FOLDER..."""
import sys, torch, transformers
from accelerate import init_empty_weights
from accelerate.utils import calculate_maximum_sizes
from accelerate.commands.estimate import estimate_training_usage
for folder in sys.argv[1:]:
    cfg = transformers.AutoConfig.from_pretrained(folder)
    with init_empty_weights():
        m = (transformers.AutoModel if cfg.model_type=="bert" else transformers.AutoModelForCausalLM).from_config(cfg, dtype=torch.float32)
    total, largest = calculate_maximum_sizes(m)
    tr = estimate_training_usage(total, "float32")
    print(folder, "fp32 total", total, "training Adam", tr)
