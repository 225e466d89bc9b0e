#!/bin/sh
# Runs one fuzz target for a while with the bounds the reader promises, on stable Rust.
#   fuzz/run.sh <pickle|archive|file|model|classes|safetensors|gguf|hf_json|pickled_module|pt2|pt2_program|onnx|sizes> [seconds, default 900] [extra libFuzzer flags]
# Seeds come from models/ (python3 fuzz/make_seeds.py); new inputs go to fuzz/corpus/<target>/ and
# crashes, timeouts and out-of-memory inputs to fuzz/artifacts/<target>/. One job: the machine is shared.
set -eu
cd "$(dirname "$0")"
target=$1
seconds=${2:-900}
shift $(( $# < 2 ? $# : 2 ))
[ -d seeds/"$target" ] || python3 make_seeds.py
mkdir -p corpus/"$target"
case $target in
    # Whole files: every report is rendered too, and a tree of 200,000 modules legitimately takes
    # seconds and hundreds of MB under the sanitizer.
    file|model|safetensors|gguf|pt2|pt2_program|onnx) rss=1024 timeout=30 ;;
    *) rss=512 timeout=10 ;;
esac
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP lets stable rustc take them.
RUSTC_BOOTSTRAP=1 exec cargo fuzz run --debug-assertions "$target" corpus/"$target" seeds/"$target" -- \
    -jobs=1 -max_total_time="$seconds" -rss_limit_mb="$rss" -malloc_limit_mb=256 -timeout="$timeout" \
    -print_final_stats=1 "$@"
