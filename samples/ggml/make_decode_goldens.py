#!/usr/bin/env python3
"""Makes tests/data/golden/ggml_decode.npz from ggml itself: compiles decode_goldens.c (ours)
against a ggml checkout built outside the repository, runs it, and packs its output.

    git clone https://github.com/ggml-org/ggml /tmp/ggml-src    (or any checkout)
    cmake -S /tmp/ggml-src -B /tmp/ggml-build -DGGML_NATIVE=OFF && cmake --build /tmp/ggml-build --target ggml-base
    /usr/bin/python3 samples/ggml/make_decode_goldens.py /tmp/ggml-src /tmp/ggml-build

The archive holds, per type, "<type>_blocks" (uint8) and "<type>_values" (float32) and the ggml
commit in "ggml_commit". ggml's source is never copied into the project.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))


def main():
    source, build = sys.argv[1], sys.argv[2]
    library = os.path.join(build, "src")
    with tempfile.TemporaryDirectory() as work:
        program = os.path.join(work, "decode_goldens")
        subprocess.run(["cc", "-O2", "-o", program, os.path.join(here, "decode_goldens.c"),
                        "-I", os.path.join(source, "include"), "-L", library, "-lggml-base", "-lm",
                        "-Wl,-rpath," + library], check=True)
        subprocess.run([program, work], check=True)
        out = {}
        for name in sorted(os.listdir(work)):
            stem, ext = os.path.splitext(name)
            if ext == ".blocks":
                out[stem + "_blocks"] = np.fromfile(os.path.join(work, name), dtype=np.uint8)
                out[stem + "_values"] = np.fromfile(os.path.join(work, stem + ".values"), dtype="<f4")
        commit = subprocess.run(["git", "-C", source, "rev-parse", "HEAD"], capture_output=True, text=True)
        out["ggml_commit"] = np.frombuffer((commit.stdout.strip() or "unknown").encode(), dtype=np.uint8)
    np.savez_compressed(os.path.join(root, "tests", "data", "golden", "ggml_decode.npz"), **out)
    print("wrote", len(out) // 2, "types")


if __name__ == "__main__":
    main()
