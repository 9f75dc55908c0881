#!/usr/bin/env bash
# A sensitivity report travels: `sensitivity --json` on one machine, `sensitivity --import` and
# `allocate --sensitivity-report` on another give what the engine gives here.
# Usage: sensitivity_import.sh QUANTLENS_CLI SOURCE_DIR
set -euo pipefail
cli=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$src/samples/digits-mlp.h5
calib=$src/samples/digits-calib.npz
specs=(--spec int4:channel:asym --spec int8:channel:sym)

"$cli" sensitivity "$model" --calib "$calib" --samples 48 "${specs[@]}" --json --no-cache > "$work/report.json"
"$cli" sensitivity "$model" --import "$work/report.json" --json > "$work/imported.json"
cmp "$work/report.json" "$work/imported.json"

allocate=(allocate "$model" --budget 6bpw --candidate int4:channel:asym --candidate int8:channel:sym
          --metric measured --no-cache --json)
"$cli" "${allocate[@]}" --calib "$calib" > "$work/here.json" 2> /dev/null
# the same evidence from a report of the same samples and specs: the same plan, byte for byte
"$cli" sensitivity "$model" --calib "$calib" "${specs[@]}" --metrics measured --json --no-cache > "$work/full.json"
"$cli" "${allocate[@]}" --sensitivity-report "$work/full.json" > "$work/there.json" 2> /dev/null
cmp "$work/here.json" "$work/there.json"

# a report of another model is refused, naming the field
other=$src/samples/digits-cnn.h5
if "$cli" sensitivity "$other" --import "$work/report.json" 2> "$work/err"; then
  echo "the digits MLP's report was taken for the CNN"; exit 1
fi
grep -q 'model_identity: the report was made for .*digits-mlp.h5' "$work/err" || { cat "$work/err"; exit 1; }
echo "sensitivity import: passed"
