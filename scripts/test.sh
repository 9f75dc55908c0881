#!/usr/bin/env bash
# Installs what is missing, builds, and runs the QuantLens test suite.
#
#   scripts/test.sh          the release build's whole CTest suite: core Catch2 tests, the same
#                            core tests on the scalar paths, CLI tests, Qt offscreen GUI tests,
#                            and the layering check. Minutes, not hours: the everyday command.
#   scripts/test.sh --full   all of the above, plus (first) the formatting check of every
#                            source file, the core and CLI tests built with clang's
#                            AddressSanitizer + UndefinedBehaviorSanitizer, and every libFuzzer
#                            target (from the same build) over its corpus and regressions. This is
#                            what CI (.ci/run) runs.
#
# The release suite runs last so the last lines printed are its CTest summary.
# Environment: JOBS (parallel build jobs), FUZZ_SECONDS (default 20), SKIP_FUZZ=1, SKIP_SANITIZE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-20}
full=0
case "${1:-}" in
  --full) full=1 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--full]" >&2; exit 2 ;;
esac

scripts/install-deps.sh
scripts/fetch-models.sh  # the third-party models some tests check against (external/)

if ((full)); then
  echo "== formatting (clang-format --dry-run -Werror on every source file)"
  scripts/check-format.sh
fi

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$jobs"

if ((full)); then
  # One clang tree serves both: the core and CLI tests and the libFuzzer targets, all with
  # AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer's coverage hooks, at -O1 (the
  # level the sanitizers' authors advise: every check stays, the engine tests run ~3x faster).
  echo "== sanitizer build (clang, ASan + UBSan, -O1: tests and fuzz targets)"
  CC=clang CXX=clang++ cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    "-DCMAKE_C_FLAGS_DEBUG=-O1 -g" "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g" -DQUANTLENS_SANITIZE=ON -DQUANTLENS_FUZZ=ON \
    -DQUANTLENS_GUI=OFF -DQUANTLENS_BENCH=OFF "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link" \
    "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link" > build-sanitize.log 2>&1 || { cat build-sanitize.log; exit 1; }
  cmake --build build-sanitize -j "$jobs"
fi

if ((full)) && [[ "${SKIP_SANITIZE:-0}" != 1 ]]; then
  echo "== sanitizer tests"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-sanitize --output-on-failure -j "$jobs"
fi

if ((full)) && [[ "${SKIP_FUZZ:-0}" != 1 ]]; then
  targets=$(sed -n 's/^foreach(target \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)  # the one list of targets
  for target in $targets; do
    work="build-sanitize/corpus-$target"
    mkdir -p "$work"
    seeds=("$root/tests/fuzz/corpus/$target")
    [[ -d "$root/tests/fuzz/regressions/$target" ]] && seeds+=("$root/tests/fuzz/regressions/$target")
    max_len=4096
    [[ $target == hdf5 ]] && max_len=65536  # whole Keras files: their metadata is spread through them
    [[ $target == onnx ]] && max_len=16384  # whole small models: the seeds are 0.3–10 KB
    [[ $target == checkpoint ]] && max_len=32768  # config.json + a 3-layer checkpoint: 8–21 KB
    echo "== fuzzing $target for ${fuzz_seconds}s"
    (cd build-sanitize && "./tests/fuzz/fuzz_$target" -max_total_time="$fuzz_seconds" -max_len=$max_len \
       -rss_limit_mb=2048 -print_final_stats=1 "corpus-$target" "${seeds[@]}" > "fuzz-$target.log" 2>&1) \
      || { tail -60 "build-sanitize/fuzz-$target.log"; echo "fuzz target $target failed; the input is in build-sanitize/"; exit 1; }
    grep -E "stat::number_of_executed_units" "build-sanitize/fuzz-$target.log" || true
  done
fi

echo "== test suite"
QT_QPA_PLATFORM=offscreen ctest --test-dir build --output-on-failure -j "$jobs"
