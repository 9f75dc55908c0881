#!/usr/bin/env bash
# QuantLens's ONNX exports judged by onnxruntime (and ONNX's checker): each export of a plan must
# load in onnxruntime and give the original's outputs on the same inputs: identical for a
# lossless plan (f32), within a stated tolerance and with the same top-1 class otherwise, on
# PaddleOCR's text-direction classifier with its own kind of input (text lines) and on a small
# MLP with random inputs. Refusals are checked to name the layer and write nothing.
# Usage: export_check.sh QUANTLENS_CLI SOURCE_DIR
set -uo pipefail
cli=$1
src=$2
ort=$src/external/onnxruntime/node_modules/onnxruntime-node
cls=$src/external/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx
mlp=$src/tests/data/onnx-export/float_mlp.onnx
lines=$src/tests/data/onnx-export/cls_lines.u8
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# plan MODEL NAME LAYERS_JSON: a plan for MODEL (its identity from a one-candidate allocate).
plan() {
  "$cli" allocate "$1" --budget 40bpw --candidate f32 --no-cache --out "$work/$2.base.json" > /dev/null 2>&1 ||
    { fail "allocate $1"; return; }
  /usr/bin/python3 - "$work/$2.base.json" "$work/$2.json" "$3" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
plan["layers"] = json.loads(sys.argv[3])
plan["default_spec"] = None
json.dump(plan, open(sys.argv[2], "w"))
PY
}

# check MODEL PLAN FORMAT INPUTS TOLERANCE: export, ONNX's checker where it knows the opset, onnxruntime.
check() {
  local model=$1 name=$2 format=$3 inputs=$4 tolerance=$5 out="$work/$2.$3.onnx"
  if ! "$cli" export "$model" --config "$work/$name.json" --format "$format" --out "$out" > "$work/log" 2>&1; then
    fail "$name $format: export failed"; cat "$work/log"; return
  fi
  if ! /usr/bin/python3 -c "
import onnx, sys
m = onnx.load(sys.argv[1])
if max(o.version for o in m.opset_import if o.domain in ('', 'ai.onnx')) <= 17:
    onnx.checker.check_model(m, full_check=True)
    print('onnx.checker (full) passed')
else:
    print('opset past the checker of onnx', onnx.__version__, ': onnxruntime is the check')
" "$out"; then fail "$name $format: onnx.checker"; return; fi
  if node "$src/tests/onnxruntime/compare_models.js" "$ort" "$model" "$out" "$inputs" "$tolerance"; then
    passed=$((passed + 1))
  else
    fail "$name $format"
  fi
}

cls_layers=$("$cli" inspect "$cls" --json | /usr/bin/python3 -c "
import json, sys
print(json.dumps([l['name'] for l in json.load(sys.stdin)['layers'] if l['kind'] in ('conv', 'linear')]))")
every() { /usr/bin/python3 -c "import json,sys; print(json.dumps({n: sys.argv[2] for n in json.loads(sys.argv[1])}))" "$cls_layers" "$1"; }

plan "$cls" cls-f32 "$(every f32)"
check "$cls" cls-f32 onnx-qdq "cls:$lines" 0
plan "$cls" cls-int8 "$(every int8:channel:sym)"
check "$cls" cls-int8 onnx-qdq "cls:$lines" 0.1
plan "$cls" cls-uint8 "$(every int8:tensor:asym)"
check "$cls" cls-uint8 onnx-qdq "cls:$lines" 0.2

plan "$mlp" mlp-nbits '{"fc1": "int4:g16:asym", "fc2": "int4:g16:sym"}'
check "$mlp" mlp-nbits onnx-matmulnbits random:7 0.05
plan "$mlp" mlp-nbits8 '{"fc1": "int8:g32:asym", "fc2": "int2:g16:asym"}'
check "$mlp" mlp-nbits8 onnx-matmulnbits random:7 0.2
plan "$mlp" mlp-blocks '{"fc1": "int4:g16:asym", "fc2": "int4:g8:sym", "fc3": "int8:g8:asym"}'
check "$mlp" mlp-blocks onnx-qdq random:7 0.05
plan "$mlp" mlp-channel '{"fc1": "int8:channel:asym", "fc2": "int6:channel:sym", "fc3": "int8:tensor:sym"}'
check "$mlp" mlp-channel onnx-qdq random:7 0.02
# At opset 11 a per-channel DequantizeLinear needs the model raised to 13 (ONNX's version converter).
mlp11=$src/tests/data/onnx-export/float_mlp_opset11.onnx
plan "$mlp11" mlp11-channel '{"fc1": "int8:channel:sym", "fc2": "int5:channel:asym", "fc3": "int8:channel:sym"}'
check "$mlp11" mlp11-channel onnx-qdq random:7 0.05
grep -q "raised the model's opset from 11 to 13" "$work/log" || fail "mlp11: the raised opset is not said"

# A Gemm is not a MatMul: refused by name, nothing written.
plan "$mlp" mlp-gemm '{"fc3": "int4:g16:asym"}'
if "$cli" export "$mlp" --config "$work/mlp-gemm.json" --format onnx-matmulnbits --out "$work/gemm.onnx" \
    > "$work/log" 2>&1 || ! grep -q 'fc3: MatMulNBits replaces a MatMul' "$work/log" || [[ -e "$work/gemm.onnx" ]]; then
  fail "a Gemm for MatMulNBits: not refused by name"; cat "$work/log"
else
  passed=$((passed + 1))
fi

echo "onnx export check: $passed passed, $failures failed"
((failures == 0))
