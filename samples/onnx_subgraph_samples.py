"""ONNX files with weights inside control flow, for QuantLens's ONNX reader tests
(tests/data/onnx-subgraphs/), written with Python's onnx package (onnx.helper), and their golden
JSON: every tensor's path name, type, shape and values (NumPy), the layers, and what a reader
must leave out (a STRING tensor, a COMPLEX64 one, external data whose file is missing); and
types.onnx, one tensor of each ONNX float8 type holding all 256 bytes and of UINT4/INT4 holding
every nibble (15 of them: an odd count, padded), with values decoded here from onnx.proto's
definitions.

Layout of nested.onnx (the onnx.proto GraphProto attributes "then_branch", "else_branch" and
"body" hold subgraphs; a subgraph sees the names of the graphs around it):
  main:  W0 [4,3] f32, shared [3,2] f32, text STRING [2], gone [3,3] f32 in "gone.bin" (absent)
         mm0 = MatMul(x, W0); gate = If(cond)
  gate/then_branch:  Constant t_w [3,2] f32; mm_then(h, t_w); mm_shared_then(h, shared)
  gate/else_branch:  w_else [3,2] f16; mm_else(h, w_else); mm_shared_else(h, shared);
                     an unnamed Loop ("Loop#2") whose body holds loop_w [2,2] f64, Constant k4 INT4 [5],
                     Constant cplx COMPLEX64 [2],
                     mm_loop(v, loop_w) and an If "inner":
    …/inner/then_branch: deep_w [2,2] bf16, mm_deep_then
    …/inner/else_branch: Constant deep_c [2,2] f32, mm_deep_else
onnx.helper writes a node's attributes in name order, so else_branch comes before then_branch
and its mm_shared_else is the layer of `shared` (a weight shared by two nodes is one layer).
deep.onnx nests 40 If nodes (120 nested messages), past protobuf's limit of 100, which the reader
refuses with that reason.
Run: python3 samples/onnx_subgraph_samples.py (writes the files and the golden)."""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "tests", "data", "onnx-subgraphs")


def float8(byte, ebits, mbits, bias, kind):
    """One float8 byte's value from onnx.proto's definitions: "fn" (E4M3FN: only S.1111.111 is
    NaN, no infinities), "fnuz" (0x80 the only NaN, no infinities or negative zero), "ieee" (E5M2:
    an all-ones exponent is infinity or NaN). NaN as the string "nan" for JSON."""
    sign, exponent, mantissa = byte >> 7, (byte >> mbits) & ((1 << ebits) - 1), byte & ((1 << mbits) - 1)
    if kind == "fnuz" and byte == 0x80:
        return "nan"
    if kind == "fn" and exponent == (1 << ebits) - 1 and mantissa == (1 << mbits) - 1:
        return "nan"
    if kind == "ieee" and exponent == (1 << ebits) - 1:
        return "nan" if mantissa else ("-inf" if sign else "inf")
    if exponent == 0:
        magnitude = mantissa * 2.0 ** (1 - bias - mbits)
    else:
        magnitude = (1 + mantissa / 2.0 ** mbits) * 2.0 ** (exponent - bias)
    return -magnitude if sign else magnitude


def values(shape, start, step=0.25):
    return (start + step * np.arange(np.prod(shape))).reshape(shape)


def bf16(array):
    """A BFLOAT16 TensorProto from float32 values that bfloat16 holds exactly (upper 16 bits)."""
    bits = np.asarray(array, np.float32).view(np.uint32) >> 16
    tensor = TensorProto()
    tensor.data_type = TensorProto.BFLOAT16
    tensor.dims.extend(array.shape)
    tensor.raw_data = bits.astype("<u2").tobytes()
    return tensor


def named(tensor, name):
    tensor.name = name
    return tensor


def main():
    os.makedirs(OUT, exist_ok=True)
    golden = {"tensors": {}, "left_out": {}, "layers": {}}

    def record(path, array, dtype):
        golden["tensors"][path] = {"dtype": dtype, "shape": list(array.shape),
                                   "values": [float(v) for v in np.asarray(array, np.float64).reshape(-1)]}

    w0, shared = values((4, 3), -1.0), values((3, 2), 0.5)
    t_w, w_else = values((3, 2), 2.0, 0.5), values((3, 2), -3.0, 0.125).astype(np.float16)
    loop_w, deep_w, deep_c = values((2, 2), 0.1, 0.1), values((2, 2), 1.0, 0.5), values((2, 2), -0.75)
    record("W0", w0, "F32"); record("shared", shared, "F32")
    record("gate/then_branch/t_w", t_w, "F32"); record("gate/else_branch/w_else", w_else, "F16")
    record("gate/else_branch/Loop#2/body/loop_w", loop_w, "F64")
    record("gate/else_branch/Loop#2/body/inner/then_branch/deep_w", deep_w, "BF16")
    record("gate/else_branch/Loop#2/body/inner/else_branch/deep_c", deep_c, "F32")

    f32 = lambda a, n: numpy_helper.from_array(np.asarray(a, np.float32), n)
    text = helper.make_tensor("text", TensorProto.STRING, [2], [b"a", b"b"])
    gone = f32(np.zeros((3, 3)), "gone")
    gone.ClearField("raw_data")
    gone.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "gone.bin"), ("offset", "0"), ("length", "36")):
        entry = gone.external_data.add()
        entry.key, entry.value = key, value
    int4 = TensorProto()
    int4.data_type = 22  # INT4 (onnx.proto, IR 10): two values per byte
    int4.dims.append(5)
    int4.raw_data = bytes([0x21, 0x43, 0x05])
    record("gate/else_branch/Loop#2/body/k4", np.array([1, 2, 3, 4, 5]), "I4")
    cplx = helper.make_tensor("cplx", TensorProto.COMPLEX64, [2], [1 + 0j, 0.5 - 0.5j])
    golden["left_out"] = {"text": {"parameters": 2, "reason": "STRING"},
                          "gone": {"parameters": 9, "reason": "gone.bin"},
                          "gate/else_branch/Loop#2/body/cplx": {"parameters": 2, "reason": "COMPLEX64"}}

    out_info = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
    inner_then = helper.make_graph([helper.make_node("MatMul", ["v", "deep_w"], ["d1"], name="mm_deep_then")],
                                   "inner_then", [], [out_info("d1")], [named(bf16(deep_w.astype(np.float32)), "deep_w")])
    inner_else = helper.make_graph([helper.make_node("Constant", [], ["deep_c"], name="c_deep", value=f32(deep_c, "deep_c")),
                                    helper.make_node("MatMul", ["v", "deep_c"], ["d2"], name="mm_deep_else")],
                                   "inner_else", [], [out_info("d2")])
    body = helper.make_graph(
        [helper.make_node("Constant", [], ["k4"], name="c_k4", value=named(int4, "k4")),
         helper.make_node("Constant", [], ["cplx"], name="c_cplx", value=cplx),
         helper.make_node("MatMul", ["v", "loop_w"], ["lv"], name="mm_loop"),
         helper.make_node("If", ["cond"], ["lo"], name="inner", then_branch=inner_then, else_branch=inner_else)],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []), out_info("lo")],
        [numpy_helper.from_array(loop_w.astype(np.float64), "loop_w")])
    then_branch = helper.make_graph(
        [helper.make_node("Constant", [], ["t_w"], name="c_then", value=f32(t_w, "t_w")),
         helper.make_node("MatMul", ["h", "t_w"], ["t1"], name="mm_then"),
         helper.make_node("MatMul", ["h", "shared"], ["t2"], name="mm_shared_then")],
        "then", [], [out_info("t1")])
    else_branch = helper.make_graph(
        [helper.make_node("MatMul", ["h", "w_else"], ["e1"], name="mm_else"),
         helper.make_node("MatMul", ["h", "shared"], ["e2"], name="mm_shared_else"),
         helper.make_node("Loop", ["trip", "cond", "e1"], ["e3"], body=body)],
        "else", [], [out_info("e3")], [numpy_helper.from_array(w_else, "w_else")])
    main_graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W0"], ["h"], name="mm0"),
         helper.make_node("If", ["cond"], ["y"], name="gate", then_branch=then_branch, else_branch=else_branch)],
        "main", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
                 helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("trip", TensorProto.INT64, [])],
        [out_info("y")], [f32(w0, "W0"), f32(shared, "shared"), text, gone])
    model = helper.make_model(main_graph, opset_imports=[helper.make_opsetid("", 17)])
    with open(os.path.join(OUT, "nested.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    golden["layers"] = {"mm0": "W0", "gate/then_branch/mm_then": "gate/then_branch/t_w",
                        "gate/else_branch/mm_shared_else": "shared", "gate/else_branch/mm_else": "gate/else_branch/w_else",
                        "gate/else_branch/Loop#2/body/mm_loop": "gate/else_branch/Loop#2/body/loop_w",
                        "gate/else_branch/Loop#2/body/inner/then_branch/mm_deep_then":
                            "gate/else_branch/Loop#2/body/inner/then_branch/deep_w",
                        "gate/else_branch/Loop#2/body/inner/else_branch/mm_deep_else":
                            "gate/else_branch/Loop#2/body/inner/else_branch/deep_c"}
    with open(os.path.join(OUT, "nested.golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")

    types_golden = {}
    initializers = []
    for code, name, bits in ((17, "F8_E4M3", (4, 3, 7, "fn")), (18, "F8_E4M3FNUZ", (4, 3, 8, "fnuz")),
                             (19, "F8_E5M2", (5, 2, 15, "ieee")), (20, "F8_E5M2FNUZ", (5, 2, 16, "fnuz"))):
        tensor = TensorProto()
        tensor.name, tensor.data_type = name.lower(), code
        tensor.dims.append(256)
        tensor.raw_data = bytes(range(256))
        initializers.append(tensor)
        types_golden[tensor.name] = {"dtype": name, "values": [float8(b, *bits) for b in range(256)]}
    for code, name, signed in ((21, "U4", False), (22, "I4", True)):
        nibbles = list(range(15))
        tensor = TensorProto()
        tensor.name, tensor.data_type = name.lower(), code
        tensor.dims.append(15)
        tensor.raw_data = bytes(nibbles[i] | (nibbles[i + 1] << 4 if i + 1 < 15 else 0) for i in range(0, 15, 2))
        initializers.append(tensor)
        types_golden[tensor.name] = {"dtype": name, "values": [float(v - 16 if signed and v >= 8 else v) for v in nibbles]}
    types = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "types",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], [out_info("y")], initializers)
    with open(os.path.join(OUT, "types.onnx"), "wb") as f:
        f.write(helper.make_model(types, opset_imports=[helper.make_opsetid("", 21)]).SerializeToString())
    with open(os.path.join(OUT, "types.golden.json"), "w") as f:
        json.dump(types_golden, f, indent=1)
        f.write("\n")

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [], [out_info("y")])
    for level in range(40):
        leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [], [out_info("y")])
        node = helper.make_node("If", ["cond"], ["y"], name=f"if{level}", then_branch=graph, else_branch=leaf)
        graph = helper.make_graph([node], f"level{level}", [], [out_info("y")])
    with open(os.path.join(OUT, "deep.onnx"), "wb") as f:
        f.write(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())


if __name__ == "__main__":
    main()
