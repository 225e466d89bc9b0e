#!/usr/bin/env python3
"""Wraps a fuzzer's artifact into the whole file the reader would see, for the regression folder.

    python3 fuzz/wrap_artifact.py <target> <artifact> core/tests/fixtures/fuzz-regressions/<name>.pt

- file, archive: the bytes are already a file; copied as they are.
- model: the records (split as fuzz/src/lib.rs splits them) written under archive/, stored.
- pickle: the bytes as archive/data.pkl. When the failure needs the TorchScript walk, add a code file
  declaring the classes it names, as the pickle target does (its DECLARATION).
- classes: the text as archive/code/__torch__.py beside a data.pkl that instantiates its first class.
Standard library only.
"""
import io
import re
import sys
import zipfile

SEPARATOR = b"\n@@tchinfo-record@@ "  # fuzz/src/lib.rs RECORD_SEPARATOR


def zipped(records):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in records:
            z.writestr(zipfile.ZipInfo("archive/" + name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def main():
    target, artifact, out = sys.argv[1:4]
    data = open(artifact, "rb").read()
    if target in ("file", "archive"):
        wrapped = data
    elif target == "model":
        records = []
        for rec in data.split(SEPARATOR):
            name, nl, body = rec.partition(b"\n")
            if nl:
                try:
                    records.append((name.decode(), body))
                except UnicodeDecodeError:
                    pass
        wrapped = zipped(records)
    elif target == "pickle":
        wrapped = zipped([("data.pkl", data)])
    elif target == "classes":
        m = re.search(rb"^class ([A-Za-z_][A-Za-z0-9_]*)", data, re.M)
        name = m.group(1) if m else b"M"
        pickle = b"\x80\x02c__torch__\n" + name + b"\n)\x81}b."
        wrapped = zipped([("data.pkl", pickle), ("code/__torch__.py", data)])
    else:
        sys.exit(f"unknown target {target}")
    open(out, "wb").write(wrapped)


if __name__ == "__main__":
    main()
