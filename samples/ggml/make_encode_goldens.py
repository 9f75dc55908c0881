#!/usr/bin/env python3
"""Makes tests/data/golden/ggml_encode.npz from ggml itself: compiles encode_goldens.c (ours)
against a ggml checkout built outside the repository, runs it, and packs its output.

    git clone https://github.com/ggml-org/ggml /tmp/ggml-src    (or any checkout)
    cmake -S /tmp/ggml-src -B /tmp/ggml-build -DGGML_NATIVE=OFF && cmake --build /tmp/ggml-build --target ggml-base
    /usr/bin/python3 samples/ggml/make_encode_goldens.py /tmp/ggml-src /tmp/ggml-build

The archive holds "input" (rows x n float32), "importance" (n float32, per column), and per
type "<type>" and "<type>_imatrix" (uint8 blocks without and with the importance weights),
with the ggml commit in "ggml_commit". ggml's source is never copied into the project.
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
    library = os.path.join(build, "src")
    with tempfile.TemporaryDirectory() as work:
        program = os.path.join(work, "encode_goldens")
        subprocess.run(["cc", "-O2", "-o", program, os.path.join(here, "encode_goldens.c"),
                        "-I", os.path.join(source, "include"), "-L", library, "-lggml-base", "-lm",
                        "-Wl,-rpath," + library], check=True)
        subprocess.run([program, work], check=True)
        out = {"input": np.fromfile(os.path.join(work, "input.f32"), dtype="<f4").reshape(ROWS, N),
               "importance": np.fromfile(os.path.join(work, "importance.f32"), dtype="<f4")}
        for name in sorted(os.listdir(work)):
            if name.endswith(".blocks"):
                key = name[: -len(".blocks")].replace(".", "_")
                out[key] = np.fromfile(os.path.join(work, name), dtype=np.uint8)
        commit = subprocess.run(["git", "-C", source, "rev-parse", "HEAD"], capture_output=True, text=True)
        out["ggml_commit"] = np.frombuffer((commit.stdout.strip() or "unknown").encode(), dtype=np.uint8)
    np.savez_compressed(os.path.join(root, "tests", "data", "golden", "ggml_encode.npz"), **out)
    print("wrote", len(out) - 3, "block arrays")


if __name__ == "__main__":
    main()
