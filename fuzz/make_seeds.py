#!/usr/bin/env python3
"""Writes the fuzzers' seed inputs under fuzz/seeds/<target>/ from the samples in models/.

Standard library only (zipfile); run from anywhere: `python3 fuzz/make_seeds.py`. The seeds are
regenerated, never committed: they are the samples cut into the pieces each target reads.
"""
import io
import pathlib
import shutil
import zipfile

FUZZ = pathlib.Path(__file__).resolve().parent
MODELS = FUZZ.parent / "models"
SEEDS = FUZZ / "seeds"
# Must match fuzz/src/lib.rs RECORD_SEPARATOR.
SEPARATOR = b"\n@@tchinfo-record@@ "


def records(path):
    """The records of a sample that the reader looks at, by name under the archive's root folder."""
    out = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            root, _, name = info.filename.partition("/")
            if name == "data.pkl" or name == "constants.pkl" or (
                name.startswith("code/") and name.endswith(".py")
            ):
                out.append((name, z.read(info)))
    return out


def small_zip(recs, method):
    """The sample without its tensor records: a few KB the fuzzer can mutate quickly."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, data in recs:
            z.writestr("archive/" + name, data)
    return buf.getvalue()


BITS = {"BOOL": 8, "U8": 8, "I8": 8, "I16": 16, "U16": 16, "I32": 32, "U32": 32, "I64": 64, "U64": 64,
        "F16": 16, "BF16": 16, "F32": 32, "F64": 64, "C64": 64, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
        "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4}


def small_safetensors(path):
    """The sample's header with every tensor cut to 8 elements (a whole byte for every dtype)."""
    import json
    import struct

    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    offset = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        size = 8 * BITS[info["dtype"]] // 8
        info["shape"] = [8]
        info["data_offsets"] = [offset, offset + size]
        offset += size
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + bytes(offset)


def small_gguf():
    """A GGUF v3 file of a few key/values (a string, integers, a string array) and four tensors: F32,
    Q8_0, Q4_K and a type id no reader knows."""
    import struct

    def string(s):
        return struct.pack("<Q", len(s)) + s.encode()

    kv = [
        string("general.architecture") + struct.pack("<I", 8) + string("llama"),
        string("llama.block_count") + struct.pack("<II", 4, 1),
        string("general.file_type") + struct.pack("<II", 4, 7),
        string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2) + string("a") + string("b"),
    ]
    tensors, offset = [], 0
    for name, dims, ggml, size in [("token_embd.weight", [32, 2], 8, 68), ("blk.0.attn_norm.weight", [32], 0, 128),
                                   ("blk.0.ffn_up.weight", [256], 12, 144), ("output.weight", [32], 99, 32)]:
        info = string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        tensors.append(info + struct.pack("<IQ", ggml, offset))
        offset += (size + 31) // 32 * 32
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)) + b"".join(kv) + b"".join(tensors)
    out += bytes(-len(out) % 32)
    return out + bytes(offset)


def main():
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    dirs = {
        t: SEEDS / t
        for t in [
            "pickle", "archive", "file", "model", "classes",
            "safetensors", "gguf", "hf_json", "pickled_module",
            "pt2", "pt2_program", "onnx", "sizes",
        ]
    }
    for d in dirs.values():
        d.mkdir(parents=True)
    for path in sorted(MODELS.glob("*.pt")):
        stem = path.stem
        recs = records(path)
        for t in ["archive", "file"]:
            shutil.copy(path, dirs[t] / path.name)
            (dirs[t] / f"{stem}-stored.zip").write_bytes(small_zip(recs, zipfile.ZIP_STORED))
            (dirs[t] / f"{stem}-deflated.zip").write_bytes(small_zip(recs, zipfile.ZIP_DEFLATED))
        joined = SEPARATOR.join(name.encode() + b"\n" + data for name, data in recs)
        (dirs["model"] / stem).write_bytes(joined)
        for name, data in recs:
            flat = name.replace("/", "_")
            if name.endswith(".pkl"):
                (dirs["pickle"] / f"{stem}-{flat}").write_bytes(data)
            else:
                (dirs["classes"] / f"{stem}-{flat}").write_bytes(data)
    # The weight formats: safetensors headers over a few bytes of data (the samples' names, dtypes and
    # metadata, every tensor one element: quick to mutate), GGUF files whole and a hand-made small one,
    # the JSON beside them, and the data.pkl of the whole pickled models.
    for i, path in enumerate(sorted(MODELS.rglob("*.safetensors"))):
        (dirs["safetensors"] / f"{i:02d}-{path.name}").write_bytes(small_safetensors(path))
    for path in sorted(MODELS.glob("*.gguf")):
        shutil.copy(path, dirs["gguf"] / path.name)
    (dirs["gguf"] / "small.gguf").write_bytes(small_gguf())
    for i, path in enumerate(sorted((MODELS / "hf").rglob("*.json"))):
        shutil.copy(path, dirs["hf_json"] / f"{i:02d}-{path.name}")
    for path in sorted(MODELS.glob("pickled_*.pt")):
        for name, data in records(path):
            if name == "data.pkl":
                (dirs["pickled_module"] / f"{path.stem}-data.pkl").write_bytes(data)
    graph_seeds(dirs)
    for t, d in dirs.items():
        files = list(d.iterdir())
        print(f"{t}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


def graph_seeds(dirs):
    """The .pt2 samples whole and without their weights, their program JSON alone (pt2_program), the ONNX
    samples, and every distinct size expression the programs hold (sizes)."""
    import json

    expressions = set()
    for path in sorted(MODELS.glob("*.pt2")):
        shutil.copy(path, dirs["pt2"] / path.name)
        with zipfile.ZipFile(path) as z:
            kept = [(i.filename, z.read(i)) for i in z.infolist() if "/data/weights/weight_" not in i.filename]
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as out:
                for name, data in kept:
                    out.writestr(name, data)
            (dirs["pt2"] / f"{path.stem}-no-weights.zip").write_bytes(buf.getvalue())
            for name, data in kept:
                if name.endswith(".json") and ("/models/" in name or name == "serialized_exported_program.json"):
                    (dirs["pt2_program"] / f"{path.stem}.json").write_bytes(data)
                    text = data.decode()
                    for m in json.loads(text)["graph_module"]["graph"]["tensor_values"].values():
                        for d in m["sizes"]:
                            if "as_expr" in d:
                                expressions.add(d["as_expr"]["expr_str"])
    for path in sorted(MODELS.glob("*.onnx")):
        shutil.copy(path, dirs["onnx"] / path.name)
    expressions |= {"2*s0 + 1", "(s0 - 1)//2 + 1", "Max(1, s0)", "batch", "4*batch"}
    for i, e in enumerate(sorted(expressions)):
        (dirs["sizes"] / f"expr-{i}").write_text(e)


if __name__ == "__main__":
    main()
