"""Export tchinfo's samples of the weight formats people share, and PyTorch's ground truth for them.

Pinned with models/export.py: torch 2.13.0, plus transformers 5.24, safetensors 0.8, gguf 0.19 (all from PyPI;
nothing is downloaded from a model hub: every model is built from a config with random weights, seed 0).

    /work/venv/bin/python models/export_formats.py      # or any venv with those packages

Writes, next to this script (models/README.md says what each one exercises):
- `hf/<name>/`: Hugging Face model folders written by `save_pretrained` (config.json + model.safetensors, or
  a sharded set with model.safetensors.index.json): tiny Llama (bfloat16, grouped-query attention), the same
  tied and sharded, BERT (masked LM: tied decoder and bias), GPT-2 (Conv1D, tied head), Mixtral (experts);
  and `hf/tiny_bert_bin/`, the layout transformers 4 wrote: pytorch_model-0000k-of-00002.bin shards
  (torch.save) with pytorch_model.bin.index.json.
- `dtypes.safetensors`: one tensor of every safetensors dtype (the 8-, 6- and 4-bit floats included) and a
  `__metadata__`, written by safetensors' torch writer (the 6-bit floats, which it cannot write, appended in
  the format's layout and checked by safetensors' reader).
- `tiny_llama.gguf`: the tied tiny Llama written by gguf's GGUFWriter with llama.cpp's tensor names,
  Q8_0 matrices, F32 norms, no output.weight (llama.cpp then uses token_embd); `ggml_types.gguf`: one
  [2, 256] tensor of every ggml type (quantized by gguf's quants module where it can, else the block
  bytes written raw).
- `pickled_model.pt`, `pickled_checkpoint.pt`, `pickled_gpt2.pt`: whole models saved with torch.save(model)
  (a custom network with a frozen part, a tied weight and a non-persistent buffer; the same inside a
  checkpoint dict; transformers' GPT-2 class).
- `quantized_dynamic_lstm.pt`: the state dict of a model quantized with quantize_dynamic (Embedding, a
  2-layer bidirectional LSTM, Linear).
- `reference/<name>.json`: what PyTorch (and each format's own Python reader) says about each sample:
  totals per dtype, every tensor with its shape, dtype and bytes, tied names, modules.
"""

import json
import os
import shutil

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
HF = os.path.join(HERE, "hf")
REFERENCE = os.path.join(HERE, "reference")
SEED = 0


def dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def write_json(path, data):
    """One top-level key per line, one list element per line (as export.py writes them)."""
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            items = ",\n".join(f"  {json.dumps(v)}" for v in value)
            lines.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def unique_params(model):
    return list(model.parameters())  # remove_duplicate=True: a tied tensor once


def totals(model):
    """PyTorch's totals: unique parameters, per dtype, with their bytes; buffers."""
    by_dtype, bytes_by_dtype = {}, {}
    for p in unique_params(model):
        d = dtype_name(p.dtype)
        by_dtype[d] = by_dtype.get(d, 0) + p.numel()
        bytes_by_dtype[d] = bytes_by_dtype.get(d, 0) + p.numel() * p.element_size()
    return {
        "total_params": sum(p.numel() for p in unique_params(model)),
        "trainable_params": sum(p.numel() for p in unique_params(model) if p.requires_grad),
        "params_by_dtype": by_dtype,
        "param_bytes_by_dtype": bytes_by_dtype,
        "total_buffer_elements": sum(b.numel() for b in model.buffers()),
    }


def tied(model):
    """Parameters that repeat an earlier one (named_parameters without removing duplicates)."""
    first, out = {}, []
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in first:
            out.append({"name": name, "tied_to": first[id(p)]})
        else:
            first[id(p)] = name
    return out


def structure(model):
    """Modules, every parameter (tied ones too) and buffer, as export.py's reference records them."""
    first, parameters = {}, []
    for name, p in model.named_parameters(remove_duplicate=False):
        entry = {"name": name, "shape": list(p.shape), "dtype": dtype_name(p.dtype), "requires_grad": p.requires_grad}
        if id(p) in first:
            entry["tied_to"] = first[id(p)]
        else:
            first[id(p)] = name
        parameters.append(entry)
    return {
        "modules": [{"path": path, "type": type(m).__name__} for path, m in model.named_modules()],
        "parameters": parameters,
        "buffers": [
            {"name": n, "shape": list(b.shape), "dtype": dtype_name(b.dtype)}
            for n, b in model.named_buffers(remove_duplicate=False)
        ],
    }


def safetensors_header(path):
    """The header as the file holds it: the format's own layout, read with the standard library."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))


def file_tensors(paths):
    """Every tensor of the safetensors files, as safetensors' own reader and the header give them."""
    from safetensors import safe_open

    out = []
    for path in paths:
        header = safetensors_header(path)
        with safe_open(path, "np") as f:
            for name in f.keys():
                begin, end = header[name]["data_offsets"]
                out.append(
                    {"name": name, "shape": list(f.get_slice(name).get_shape()), "dtype": header[name]["dtype"], "bytes": end - begin}
                )
    return sorted(out, key=lambda t: t["name"])


def config_facts(config):
    keys = ["model_type", "num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads",
            "num_key_value_heads", "vocab_size", "max_position_embeddings", "num_local_experts",
            "num_experts_per_tok", "tie_word_embeddings", "n_layer", "n_embd", "n_head", "n_positions"]
    return {k: getattr(config, k) for k in keys if getattr(config, k, None) is not None}


# ------------------------------------------------------------------------------------- Hugging Face folders


def llama_config(**kw):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, **kw)


def hf_models():
    from transformers import (BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel, LlamaForCausalLM,
                              MixtralConfig, MixtralForCausalLM)

    return {
        "tiny_llama": (lambda: LlamaForCausalLM(llama_config()).to(torch.bfloat16), None),
        "tiny_llama_sharded": (lambda: LlamaForCausalLM(llama_config(tie_word_embeddings=True)), "24KB"),
        "tiny_bert": (lambda: BertForMaskedLM(BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                                                          num_attention_heads=4, intermediate_size=64,
                                                          max_position_embeddings=64)), None),
        "tiny_gpt2": (lambda: GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4,
                                                          n_positions=64, bos_token_id=0, eos_token_id=0)), None),
        "tiny_mixtral": (lambda: MixtralForCausalLM(MixtralConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                                                                   num_hidden_layers=2, num_attention_heads=4,
                                                                   num_key_value_heads=2, num_local_experts=4,
                                                                   num_experts_per_tok=2, max_position_embeddings=64)), None),
    }


def export_hf():
    refs = {}
    for name, (make, shard) in hf_models().items():
        torch.manual_seed(SEED)
        model = make().eval()
        out = os.path.join(HF, name)
        shutil.rmtree(out, ignore_errors=True)
        if shard:
            model.save_pretrained(out, max_shard_size=shard)
        else:
            model.save_pretrained(out)
        files = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".safetensors"))
        ref = {**totals(model), "config": config_facts(model.config), "tied": tied(model),
               "shards": len(files), "file_tensors": file_tensors(files)}
        write_json(os.path.join(REFERENCE, f"hf_{name}.json"), ref)
        print(f"{out}: {len(files)} safetensors file(s), {ref['total_params']:,} params")
        refs[name] = model
    export_bert_bin()
    return refs


def export_bert_bin():
    """The folder transformers 4 wrote with safe_serialization=False: torch.save shards and their index."""
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(SEED)
    model = BertForMaskedLM(BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=64, max_position_embeddings=64)).eval()
    out = os.path.join(HF, "tiny_bert_bin")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    model.config.save_pretrained(out)
    state = model.state_dict()
    names = list(state)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map, total = {}, 0
    seen = set()
    for i, part in enumerate(halves, 1):
        shard = f"pytorch_model-{i:05d}-of-{len(halves):05d}.bin"
        torch.save({k: state[k] for k in part}, os.path.join(out, shard))
        for k in part:
            weight_map[k] = shard
            t = state[k]
            if t.untyped_storage().data_ptr() not in seen:
                seen.add(t.untyped_storage().data_ptr())
                total += t.numel() * t.element_size()
    with open(os.path.join(out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    ref = {**totals(model), "config": config_facts(model.config), "tied": tied(model),
           "state_dict": [{"name": k, "shape": list(v.shape), "dtype": dtype_name(v.dtype)} for k, v in state.items()]}
    write_json(os.path.join(REFERENCE, "hf_tiny_bert_bin.json"), ref)
    print(f"{out}: 2 torch.save shards, {ref['total_params']:,} params")


# ----------------------------------------------------------------------------------------------- safetensors


def export_dtypes():
    """One tensor of every safetensors dtype, written by safetensors' torch writer; the 6-bit floats, which
    no torch dtype and no Python writer of safetensors 0.8 takes, are appended in the format's own layout
    (the header rewritten with their offsets), and the file is checked by safetensors' reader."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = os.path.join(HERE, "dtypes.safetensors")
    torch_dtypes = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.uint16, torch.int32, torch.uint32,
                    torch.int64, torch.uint64, torch.float16, torch.bfloat16, torch.float32, torch.float64,
                    torch.complex64, torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e8m0fnu,
                    torch.float8_e4m3fnuz, torch.float8_e5m2fnuz, torch.float4_e2m1fn_x2]
    tensors = {f"t_{dtype_name(d)}": torch.zeros(3, 5, dtype=d) for d in torch_dtypes}
    save_file(tensors, path, metadata={"format": "pt", "note": "every dtype"})
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    for name, dtype, shape in [("t_f6_e2m3", "F6_E2M3", [4, 8]), ("t_f6_e3m2", "F6_E3M2", [2, 4])]:
        size = int(np.prod(shape)) * 6 // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]}
        data += bytes(size)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the writer pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + data)
    with safe_open(path, "pt") as f:  # the reference reader accepts the file
        assert len(list(f.keys())) == len(header) - 1
    ref = {
        "metadata": header.get("__metadata__", {}),
        "tensors": [
            {"name": k, "dtype": v["dtype"], "shape": v["shape"], "bytes": v["data_offsets"][1] - v["data_offsets"][0]}
            for k, v in sorted(header.items()) if k != "__metadata__"
        ],
    }
    write_json(os.path.join(REFERENCE, "dtypes.json"), ref)
    print(f"{path}: {len(ref['tensors'])} tensors, {os.path.getsize(path):,} B")


# ----------------------------------------------------------------------------------------------------- GGUF


def gguf_reference(path, model=None):
    import gguf

    r = gguf.GGUFReader(path)
    tensors = [
        {"name": t.name, "shape": [int(d) for d in reversed(t.shape.tolist())], "type": t.tensor_type.name,
         "elements": int(t.n_elements), "bytes": int(t.n_bytes)}
        for t in r.tensors
    ]
    by_type = {}
    for t in tensors:
        e = by_type.setdefault(t["type"], {"elements": 0, "bytes": 0})
        e["elements"] += t["elements"]
        e["bytes"] += t["bytes"]
    ref = {"version": int(r.fields["GGUF.version"].parts[-1][0]), "tensors": tensors, "by_type": by_type}
    if model is not None:
        ref.update(totals(model))
    return ref


def export_gguf(models):
    import gguf

    model = models["tiny_llama_sharded"]  # tied: the file leaves output.weight out, as llama.cpp's converter does
    cfg = model.config
    path = os.path.join(HERE, "tiny_llama.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny llama")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"tok{i}" for i in range(cfg.vocab_size)])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg.num_hidden_layers)
    for hf_name, p in model.state_dict().items():
        if hf_name == "lm_head.weight":
            continue  # tied to the embedding
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        data = p.detach().float().numpy()
        if data.ndim == 2:
            w.add_tensor(name, gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0),
                         raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    write_json(os.path.join(REFERENCE, "tiny_llama_gguf.json"), gguf_reference(path, model))
    print(f"{path}: {os.path.getsize(path):,} B")

    path = os.path.join(HERE, "ggml_types.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    rng = np.random.default_rng(SEED)
    data = rng.standard_normal((2, 256)).astype(np.float32)
    for t in gguf.GGMLQuantizationType:
        if t in (gguf.GGMLQuantizationType.F32,):
            w.add_tensor("t." + t.name, data)
            continue
        try:
            q = gguf.quants.quantize(data, t)
        except (NotImplementedError, gguf.quants.QuantError, TypeError, ValueError):
            # No Python quantizer for this type: the blocks' bytes, written raw (what a reader sees).
            q = np.zeros(gguf.quants.quant_shape_to_byte_shape(data.shape, t), dtype=np.uint8)
        w.add_tensor("t." + t.name, q, raw_dtype=t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    write_json(os.path.join(REFERENCE, "ggml_types.json"), gguf_reference(path))
    print(f"{path}: {os.path.getsize(path):,} B")


# --------------------------------------------------------------------------------------------------- pickles


class Tagger(nn.Module):
    """A network pickled whole: a frozen embedding (tied to the output), BatchNorm buffers, a non-persistent
    buffer, a ModuleDict of heads and a layer without a bias."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.embed.weight.requires_grad_(False)
        self.encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Linear(16, 8, bias=False))
        self.heads = nn.ModuleDict({"tags": nn.Linear(8, 5), "out": nn.Linear(8, 20, bias=False)})
        self.heads["out"].weight = self.embed.weight
        self.register_buffer("positions", torch.arange(8), persistent=False)

    def forward(self, x):
        h = self.encoder(self.embed(x))
        return self.heads["tags"](h), self.heads["out"](h)


def export_pickles(models):
    torch.manual_seed(SEED)
    model = Tagger().eval()
    for name, obj in [("pickled_model", model), ("pickled_checkpoint", {"epoch": 3, "model": model, "best": 0.5})]:
        path = os.path.join(HERE, f"{name}.pt")
        torch.save(obj, path)
        print(f"{path}: {os.path.getsize(path):,} B")
    ref = {**structure(model), **totals(model)}
    write_json(os.path.join(REFERENCE, "pickled_model.json"), ref)

    gpt2 = models["tiny_gpt2"]
    path = os.path.join(HERE, "pickled_gpt2.pt")
    torch.save(gpt2, path)
    write_json(os.path.join(REFERENCE, "pickled_gpt2.json"), {**structure(gpt2), **totals(gpt2)})
    print(f"{path}: {os.path.getsize(path):,} B")


class LstmTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.lstm = nn.LSTM(8, 16, num_layers=2, bidirectional=True)
        self.gru = nn.GRU(32, 8)
        self.out = nn.Linear(8, 5)

    def forward(self, x):
        return self.out(self.gru(self.lstm(self.embed(x))[0])[0])


def export_quantized():
    torch.manual_seed(SEED)
    model = LstmTagger().eval()
    ref = totals(model)  # the float model: what the quantized layers' packed weights are
    ref["layers"] = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()}
    q = torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)
    path = os.path.join(HERE, "quantized_dynamic_lstm.pt")
    torch.save(q.state_dict(), path)
    ref["quantized_parameters_reported_by_pytorch"] = sum(p.numel() for p in q.parameters())
    write_json(os.path.join(REFERENCE, "quantized_dynamic_lstm.json"), ref)
    print(f"{path}: {os.path.getsize(path):,} B")


def main():
    assert torch.__version__.startswith("2.13."), f"pinned to torch 2.13, found {torch.__version__}"
    os.makedirs(REFERENCE, exist_ok=True)
    models = export_hf()
    export_dtypes()
    export_gguf(models)
    export_pickles(models)
    export_quantized()


if __name__ == "__main__":
    main()
