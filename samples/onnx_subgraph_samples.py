"""ONNX files with weights inside control flow, for QuantLens's ONNX reader tests
(tests/data/onnx-subgraphs/), written with Python's onnx package (onnx.helper), and their golden
JSON: every tensor's path name, type, shape and values (NumPy), the layers, and what a reader
must leave out (a STRING tensor, an INT4 tensor, external data whose file is missing).

Layout of nested.onnx (the onnx.proto GraphProto attributes "then_branch", "else_branch" and
"body" hold subgraphs; a subgraph sees the names of the graphs around it):
  main:  W0 [4,3] f32, shared [3,2] f32, text STRING [2], gone [3,3] f32 in "gone.bin" (absent)
         mm0 = MatMul(x, W0); gate = If(cond)
  gate/then_branch:  Constant t_w [3,2] f32; mm_then(h, t_w); mm_shared_then(h, shared)
  gate/else_branch:  w_else [3,2] f16; mm_else(h, w_else); mm_shared_else(h, shared);
                     an unnamed Loop ("Loop#2") whose body holds loop_w [2,2] f64, Constant k4 INT4 [5],
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
    golden["left_out"] = {"text": {"parameters": 2, "reason": "STRING"},
                          "gone": {"parameters": 9, "reason": "gone.bin"},
                          "gate/else_branch/Loop#2/body/k4": {"parameters": 5, "reason": "INT4"}}

    out_info = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
    inner_then = helper.make_graph([helper.make_node("MatMul", ["v", "deep_w"], ["d1"], name="mm_deep_then")],
                                   "inner_then", [], [out_info("d1")], [named(bf16(deep_w.astype(np.float32)), "deep_w")])
    inner_else = helper.make_graph([helper.make_node("Constant", [], ["deep_c"], name="c_deep", value=f32(deep_c, "deep_c")),
                                    helper.make_node("MatMul", ["v", "deep_c"], ["d2"], name="mm_deep_else")],
                                   "inner_else", [], [out_info("d2")])
    body = helper.make_graph(
        [helper.make_node("Constant", [], ["k4"], name="c_k4", value=named(int4, "k4")),
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

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [], [out_info("y")])
    for level in range(40):
        leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [], [out_info("y")])
        node = helper.make_node("If", ["cond"], ["y"], name=f"if{level}", then_branch=graph, else_branch=leaf)
        graph = helper.make_graph([node], f"level{level}", [], [out_info("y")])
    with open(os.path.join(OUT, "deep.onnx"), "wb") as f:
        f.write(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())


if __name__ == "__main__":
    main()
