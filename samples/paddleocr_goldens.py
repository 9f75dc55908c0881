#!/usr/bin/python3
"""Golden quantization figures for a real third-party network: PaddleOCR's PP-OCRv4 text
recognizer (ch_PP-OCRv4_rec_infer.onnx, as scripts/fetch-models.sh fetches it).

Its convolutions and MatMuls hold rows that are zero except for subnormal values, which once
quantized to NaN (issue 15, B1). For every weight layer and every spec below this script
quantizes and dequantizes with NumPy alone, following docs/formats.md (§1 integer grids with
PyTorch's observer arithmetic, §2 minifloats, §3 NF4, §4 MX, §5 ggml's Q4_0 reference), and
writes the MSE and max |error| of each, or why the spec cannot take the layer, to
tests/data/golden/paddleocr_rec_quant.json. The C++ test (tests/core/paddleocr_test.cpp) runs
QuantLens on the same file and must agree.

    scripts/fetch-models.sh
    /usr/bin/python3 samples/paddleocr_goldens.py external/ocr/ch_PP-OCRv4_rec_infer.onnx
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper


HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(os.path.dirname(HERE), "tests", "data", "golden")
EPS = np.float32(2.0 ** -23)  # PyTorch's observers clamp scales at float32's epsilon


def weights_by_layer(model):
    """(layer name, [out, in·kh·kw] float32 weights) for every Conv and MatMul/Gemm whose weight
    is a constant, named as QuantLens names them (node name, else the weight's name)."""
    constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    for node in model.graph.node:
        if node.op_type not in ("Conv", "MatMul", "Gemm") or len(node.input) < 2:
            continue
        w = constants.get(node.input[1])
        if w is None:
            continue
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        if node.op_type != "Conv" and not trans_b:
            w = w.T  # MatMul's B is [in, out]
        yield node.name or node.input[1], np.ascontiguousarray(w.reshape(w.shape[0], -1), np.float32)


def groups(w, size):
    """Each row split into runs of `size` (the last one shorter when the row is)."""
    for row in w:
        for start in range(0, row.size, size):
            yield row[start:start + size]


def int_asym(g, bits):  # PyTorch's affine observer + fake_quantize, codes 0 … 2^b − 1
    qmax = np.float32(2 ** bits - 1)
    lo, hi = min(np.float32(g.min()), np.float32(0)), max(np.float32(g.max()), np.float32(0))
    s = max(np.float32(hi / qmax - lo / qmax), EPS)
    z = np.float32(np.clip(np.rint(-lo / s), 0, qmax))
    q = np.clip(np.rint(g * (np.float32(1) / s)) + z, 0, qmax)
    return ((q - z) * s).astype(np.float32)


def int_sym(g, bits):  # restricted range ±(2^(b−1) − 1)
    qmax = np.float32(2 ** (bits - 1) - 1)
    s = max(np.float32(np.abs(g).max() / qmax), EPS)
    q = np.clip(np.rint(g * (np.float32(1) / s)), -qmax, qmax)
    return (q * s).astype(np.float32)


def minifloat(y, mantissa_bits, min_exponent, largest):
    """Round to the nearest value with `mantissa_bits` bits below the leading one, ties to the
    even mantissa, a fixed step below 2^min_exponent, saturating at ±largest."""
    a = np.abs(y.astype(np.float64))
    e = np.floor(np.log2(np.where(a > 0, a, 1.0)))
    step = np.exp2(np.maximum(e, min_exponent) - mantissa_bits)
    r = np.minimum(np.rint(a / step) * step, largest)
    return np.copysign(r, y).astype(np.float32)


def fp8_e4m3(g):
    s = max(np.float32(np.abs(g).max() / np.float32(448)), EPS)
    return (minifloat(g / s, 3, -6, 448.0) * s).astype(np.float32)


NF4 = np.array([-1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1], np.float32)


def nf4(g):
    s = max(np.float32(np.abs(g).max()), np.float32(2.0 ** -126))
    y = (g / s).astype(np.float32)
    mids = (NF4[:-1].astype(np.float64) + NF4[1:]) / 2
    code = np.searchsorted(mids, y.astype(np.float64), side="left")  # a tie goes to the lower level
    return (NF4[code] * s).astype(np.float32)


def mxfp4(g):
    m = np.abs(g).max()
    e = int(np.floor(np.log2(m))) - 2 if m > 0 else -127
    x = np.float32(2.0 ** max(-127, min(127, e)))
    return (minifloat(g / x, 1, 0, 6.0) * x).astype(np.float32)


def grouped(fn, size):
    def run(w):
        out = np.empty_like(w)
        flat = out.reshape(-1)
        pos = 0
        for g in groups(w, size):
            flat[pos:pos + g.size] = fn(g)
            pos += g.size
        return out
    return run


def ggml_q4_0(w):
    """ggml's quantize_row_q4_0_ref then dequantize_row_q4_0: d = (the value of largest
    magnitude, sign kept)/−8, codes min(15, (int8)(x/d + 8.5)), values (code − 8)·fp16(d)."""
    if w.shape[1] % 32:
        return f"rows hold {w.shape[1]} values, not a multiple of 32"
    b = w.reshape(-1, 32)
    mx = b[np.arange(len(b)), np.argmax(np.abs(b), axis=1)]
    d = (mx / np.float32(-8)).astype(np.float32)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
        x0 = (b * inv[:, None]).astype(np.float32) + np.float32(8.5)
    # A d below 2^-128 has an infinite reciprocal, but its fp16 is 0, so every value is 0
    # whatever code the cast gives; such blocks take code 8 here.
    code = np.where(np.isfinite(x0), np.minimum(15, np.trunc(np.nan_to_num(x0, nan=8.5))), 8)
    d16 = d.astype(np.float16).astype(np.float32)
    return ((code - 8).astype(np.float32) * d16[:, None]).astype(np.float32).reshape(w.shape)


def specs(row_length):
    return {
        "int4:g128:asym": grouped(lambda g: int_asym(g, 4), 128),
        "int8:channel:sym": grouped(lambda g: int_sym(g, 8), row_length),
        "fp8_e4m3:channel": grouped(fp8_e4m3, row_length),
        "nf4:g64": grouped(nf4, 64),
        "mxfp4": grouped(mxfp4, 32),
        "q4_0": ggml_q4_0,
    }


def main(path):
    raw = open(path, "rb").read()
    model = onnx.load_from_string(raw)
    layers = []
    for name, w in weights_by_layer(model):
        results = {}
        for spec, fn in specs(w.shape[1]).items():
            dq = fn(w)
            if isinstance(dq, str):
                results[spec] = {"not_applicable": dq}
                continue
            assert np.all(np.isfinite(dq)), (name, spec)
            err = w.astype(np.float64) - dq.astype(np.float64)
            results[spec] = {"mse": float(np.mean(err * err)), "max_abs_error": float(np.abs(err).max())}
        rows_with_subnormals = int(np.sum(np.any((w != 0) & (np.abs(w) < np.float32(2.0 ** -126)), axis=1)))
        layers.append({"layer": name, "shape": list(w.shape), "rows_with_subnormals": rows_with_subnormals,
                       "results": results})
    out = {"model": os.path.basename(path), "sha256": hashlib.sha256(raw).hexdigest(),
           "generator": "samples/paddleocr_goldens.py (NumPy " + np.__version__ + ")",
           "specs": list(specs(1).keys()), "layers": layers}
    with open(os.path.join(GOLDEN, "paddleocr_rec_quant.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"{len(layers)} layers, {sum(l['rows_with_subnormals'] > 0 for l in layers)} with rows holding subnormals")


if __name__ == "__main__":
    main(sys.argv[1])
