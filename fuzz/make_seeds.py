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


def main():
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    dirs = {
        t: SEEDS / t
        for t in ["pickle", "archive", "file", "model", "classes", "pt2", "pt2_program", "onnx", "sizes"]
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
