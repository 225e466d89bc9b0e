#!/usr/bin/env bash
# Assemble a CPU-only libtorch 2.13.0 from PyPI wheels, cache it outside the clone and link it as ./.libtorch.
#
# Why: torch-sys cannot download libtorch here (only package registries are reachable), but PyPI carries the
# same shared libraries inside the torch wheel. Everything is pinned and checked by sha256 before unpacking,
# and the result is built in a temporary folder then renamed into place, so an interrupted run never leaves a
# half libtorch behind.
#
# Environment:
#   LIBTORCH                 a libtorch the user already has; used as is (only linked), nothing is downloaded
#   TCHINFO_LIBTORCH_CACHE   where the assembled libtorch lives (default ~/.cache/tchinfo/libtorch-2.13.0)
set -euo pipefail

TORCH_VERSION=2.13.0
TORCH_WHEEL=torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl
TORCH_SHA256=60fcdcb2f3876e21146cb4524ef06397d727ca9ad5f020818547e25075fe3cb7
CUDART_SPEC=nvidia-cuda-runtime==13.0.96
CUDART_SHA256=7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548
CUPTI_SPEC=nvidia-cuda-cupti==13.0.85
CUPTI_SHA256=4eb01c08e859bf924d222250d2e8f8b8ff6d3db4721288cf35d14252a4d933c8

project_dir=$(cd "$(dirname "$0")/.." && pwd)
link="$project_dir/.libtorch"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/tchinfo"
target="${TCHINFO_LIBTORCH_CACHE:-$cache_root/libtorch-$TORCH_VERSION}"

die() { echo "fetch-libtorch: $*" >&2; exit 1; }

point_link_at() {
    ln -sfn "$1" "$link.tmp" && mv -T "$link.tmp" "$link"
}

# A user's own libtorch always wins, on every run: resolved to an absolute path, since a relative one would
# otherwise be read from the link's folder.
if [ -n "${LIBTORCH:-}" ]; then
    own=$(readlink -f "$LIBTORCH") && [ -d "$own/lib" ] || die "LIBTORCH=$LIBTORCH has no lib/ folder"
    [ "$own" = "$(readlink -f "$link" 2>/dev/null || true)" ] || point_link_at "$own"
    exit 0
fi

if [ -f "$target/build-version" ] && [ "$(cat "$target/build-version")" = "$TORCH_VERSION" ]; then
    point_link_at "$target"
    exit 0
fi

# The wheels below are Linux x86-64 builds; anywhere else they would fail later and obscurely.
[ "$(uname -sm)" = "Linux x86_64" ] || die "the PyPI libtorch wheels are for Linux x86_64, not $(uname -sm); set LIBTORCH to a libtorch $TORCH_VERSION for this machine"
command -v python3 >/dev/null 2>&1 || die "python3 is required to download libtorch from PyPI but was not found"
python3 -m pip --version >/dev/null 2>&1 || die "pip for python3 is required to download libtorch from PyPI but was not found"
command -v g++ >/dev/null 2>&1 || die "g++ is required to build the CPU-only libtorch.so stub but was not found"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum is required to verify the downloaded wheels but was not found"

mkdir -p "$(dirname "$target")"
work=$(mktemp -d "$(dirname "$target")/.libtorch-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "fetch-libtorch: downloading torch $TORCH_VERSION wheels from PyPI (about 530 MB, once)" >&2
download() {
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.11 --platform manylinux_2_28_x86_64 --platform manylinux_2_25_x86_64 --platform manylinux_2_17_x86_64 --dest "$work/wheels" "$1" \
        || die "pip could not download $1"
}
download "torch==$TORCH_VERSION"
download "$CUDART_SPEC"
download "$CUPTI_SPEC"

verify() { # wheel-glob sha256
    local files=("$work"/wheels/$1)
    [ ${#files[@]} -eq 1 ] && [ -f "${files[0]}" ] || die "expected exactly one wheel matching $1"
    echo "$2  ${files[0]}" | sha256sum --check --quiet - >/dev/null 2>&1 \
        || die "sha256 mismatch for $(basename "${files[0]}")"
    echo "${files[0]}"
}
torch_whl=$(verify "$TORCH_WHEEL" "$TORCH_SHA256")
cudart_whl=$(verify "nvidia_cuda_runtime-*.whl" "$CUDART_SHA256")
cupti_whl=$(verify "nvidia_cuda_cupti-*.whl" "$CUPTI_SHA256")

stage="$work/libtorch"
mkdir -p "$stage/lib"
# Python's zipfile is used because unzip is not part of the base image.
python3 - "$stage" "$torch_whl" "$cudart_whl" "$cupti_whl" <<'PY'
import os, shutil, sys, zipfile
stage, torch_whl, cudart_whl, cupti_whl = sys.argv[1:]
libdir = os.path.join(stage, "lib")

def copy(zf, member, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with zf.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)

with zipfile.ZipFile(torch_whl) as zf:
    wanted = {"torch/lib/libtorch_cpu.so", "torch/lib/libc10.so", "torch/lib/libgomp.so.1"}
    names = set(zf.namelist())
    missing = wanted - names
    if missing:
        sys.exit(f"fetch-libtorch: torch wheel lacks {sorted(missing)}")
    for member in wanted:
        copy(zf, member, os.path.join(libdir, os.path.basename(member)))
    for member in names:
        if member.startswith("torch/include/") and not member.endswith("/"):
            copy(zf, member, os.path.join(stage, member[len("torch/"):]))

for whl in (cudart_whl, cupti_whl):
    with zipfile.ZipFile(whl) as zf:
        for member in zf.namelist():
            base = os.path.basename(member)
            if member.startswith("nvidia/cu13/lib/") and base in ("libcudart.so.13", "libcupti.so.13"):
                copy(zf, member, os.path.join(libdir, base))
PY

for needed in libcudart.so.13 libcupti.so.13; do
    [ -f "$stage/lib/$needed" ] || die "$needed was not found in the nvidia wheels"
done

# The wheel's libtorch.so drags in libtorch_cuda.so; the CPU distribution's libtorch.so only links libtorch_cpu.
echo '' | g++ -x c++ -shared -fPIC -o "$stage/lib/libtorch.so" - \
    -L"$stage/lib" -Wl,--no-as-needed -ltorch_cpu -lc10 -Wl,-rpath,'$ORIGIN' \
    || die "could not build the CPU-only libtorch.so stub"
ln -s libgomp.so.1 "$stage/lib/libgomp.so"
echo "$TORCH_VERSION" > "$stage/build-version"

# -T: should another run have created $target meanwhile, fail instead of moving the stage inside it.
rm -rf "$target.old"
if [ -e "$target" ]; then mv -T "$target" "$target.old"; fi
mv -T "$stage" "$target"
rm -rf "$target.old"
point_link_at "$target"
echo "fetch-libtorch: libtorch $TORCH_VERSION ready in $target" >&2
