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
        for t in ["pickle", "archive", "file", "model", "classes", "safetensors", "gguf", "hf_json", "pickled_module"]
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
    # The weight formats: safetensors files whole (every sample is a few KB to 100 KB), GGUF files whole,
    # the JSON beside them, and the data.pkl of the whole pickled models.
    for i, path in enumerate(sorted(MODELS.rglob("*.safetensors"))):
        shutil.copy(path, dirs["safetensors"] / f"{i:02d}-{path.name}")
    for path in sorted(MODELS.glob("*.gguf")):
        shutil.copy(path, dirs["gguf"] / path.name)
    for i, path in enumerate(sorted((MODELS / "hf").rglob("*.json"))):
        shutil.copy(path, dirs["hf_json"] / f"{i:02d}-{path.name}")
    for path in sorted(MODELS.glob("pickled_*.pt")):
        for name, data in records(path):
            if name == "data.pkl":
                (dirs["pickled_module"] / f"{path.stem}-data.pkl").write_bytes(data)
    for t, d in dirs.items():
        files = list(d.iterdir())
        print(f"{t}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
