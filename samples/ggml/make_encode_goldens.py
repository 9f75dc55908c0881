#!/usr/bin/env python3
"""Makes tests/data/golden/ggml_encode.npz from ggml itself: compiles encode_goldens.c (ours)
against a ggml checkout built outside the repository, runs it, and packs its output.

    git clone https://github.com/ggml-org/ggml /tmp/ggml-src    (or any checkout)
    cmake -S /tmp/ggml-src -B /tmp/ggml-build -DGGML_NATIVE=OFF && cmake --build /tmp/ggml-build --target ggml-base
    /usr/bin/python3 samples/ggml/make_encode_goldens.py /tmp/ggml-src /tmp/ggml-build

or against the ggml inside a llama.cpp checkout built for make_quantize_goldens.py (the
committed vectors are: llama.cpp's ggml can be newer than ggml's own repository, and
llama-quantize is the judge of the exports):

    /usr/bin/python3 samples/ggml/make_encode_goldens.py /tmp/llama.cpp/ggml /tmp/llama.cpp/build

The archive holds "input" (rows x n float32), "importance" (n float32, per column), and per
type "<type>" and "<type>_imatrix" (uint8 blocks without and with the importance weights),
with the ggml commit in "ggml_commit". For the grid i-quants, "<type>[_imatrix]_aborted" has
one byte per row, 1 where ggml aborted on it (its blocks are then zeros). ggml's source is never copied into the project.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
ROWS, N = 16, 512


def main():
    source, build = sys.argv[1], sys.argv[2]
    # ggml's own build puts libggml-base in src/, llama.cpp's in bin/
    library = next(os.path.join(build, d) for d in ("src", "bin")
                   if os.path.exists(os.path.join(build, d, "libggml-base.so")))
    with tempfile.TemporaryDirectory() as work:
        program = os.path.join(work, "encode_goldens")
        subprocess.run(["cc", "-O2", "-o", program, os.path.join(here, "encode_goldens.c"),
                        "-I", os.path.join(source, "include"), "-L", library, "-lggml-base", "-lm",
                        "-Wl,-rpath," + library], check=True)
        subprocess.run([program, work], check=True)
        out = {"input": np.fromfile(os.path.join(work, "input.f32"), dtype="<f4").reshape(ROWS, N),
               "importance": np.fromfile(os.path.join(work, "importance.f32"), dtype="<f4")}
        for name in sorted(os.listdir(work)):
            for ext in (".blocks", ".aborted"):
                if name.endswith(ext):
                    key = name[: -len(ext)].replace(".", "_") + ("_aborted" if ext == ".aborted" else "")
                    out[key] = np.fromfile(os.path.join(work, name), dtype=np.uint8)
        commit = subprocess.run(["git", "-C", source, "log", "-1", "--format=%H %s"], capture_output=True, text=True)
        out["ggml_commit"] = np.frombuffer((commit.stdout.strip() or "unknown").encode(), dtype=np.uint8)
    np.savez_compressed(os.path.join(root, "tests", "data", "golden", "ggml_encode.npz"), **out)
    print("wrote", len(out) - 3, "block arrays")


if __name__ == "__main__":
    main()
