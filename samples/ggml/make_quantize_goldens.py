#!/usr/bin/env python3
"""Makes the llama-quantize parity goldens from llama.cpp itself (built outside the repository):

    tests/data/golden/llama_quantize_digests.json   XXH3-128 digest and ggml type of every tensor
        llama-quantize --pure [--imatrix] writes, per type, from the parity test's F16 GGUF (or,
        where it stops for want of an importance matrix, "refused" and its message);
    tests/data/golden/imatrix_rewritten.{gguf,dat}  QuantLens's importance matrix as
        llama-imatrix --in-file rewrites it, in its GGUF and its legacy format;
    tests/data/golden/llama_quantize_mixes.json     the ggml type llama-quantize's named mixes
        (Q4_K_M, ...; with and without --imatrix) give each tensor of a 16-block GQA-4 llama, and
        the digests of its Q4_K_M file.

    git clone <node-llama-cpp's llama/gitRelease.bundle> /tmp/llama.cpp   (or any llama.cpp checkout)
    cmake -S /tmp/llama.cpp -B /tmp/llama.cpp/build -DLLAMA_CURL=OFF
    cmake --build /tmp/llama.cpp/build --target llama-quantize llama-imatrix
    /usr/bin/python3 samples/ggml/make_quantize_goldens.py /tmp/llama.cpp build/tests/quantlens_core_tests

The inputs (the F16 GGUF and QuantLens's imatrix.gguf) come from the core test binary's hidden
case "[.parity-inputs]". Tensors are read with llama.cpp's gguf-py (from the checkout) and hashed
with python3-xxhash; nothing of llama.cpp is copied into the project.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import xxhash

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
golden = os.path.join(root, "tests", "data", "golden")

MIXES = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS",
         "TQ1_0", "TQ2_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]
# The very-low-bit mixes, some of which llama-quantize runs only with an imatrix: their types
# come from --dry-run, which chooses every tensor's type without quantizing.
DRY_MIXES = ["Q2_K_S", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M", "IQ1_S",
             "IQ1_M"]


def dry_run_types(output):
    """Tensor name -> ggml type name (upper case) from llama-quantize --dry-run's log."""
    types = {}
    for line in output.splitlines():
        match = re.match(r"\[\s*\d+/\s*\d+\]\s+(\S+)\s+-.*type =\s+(\w+),.*?(?:\((\w+)\))?\s*$", line)
        if match:
            types[match.group(1)] = (match.group(3) or match.group(2)).upper()
    return types

# llama-quantize's type name -> QuantLens's spec (its "IQ2_S" file type writes IQ2_XS tensors;
# IQ2_M is the one whose tensors are IQ2_S)
TYPES = {"Q4_0": "q4_0", "Q4_1": "q4_1", "Q5_0": "q5_0", "Q5_1": "q5_1", "Q8_0": "q8_0",
         "Q2_K": "q2_k", "Q3_K": "q3_k", "Q4_K": "q4_k", "Q5_K": "q5_k", "Q6_K": "q6_k",
         "IQ4_NL": "iq4_nl", "IQ4_XS": "iq4_xs", "TQ1_0": "tq1_0", "TQ2_0": "tq2_0",
         "IQ2_XXS": "iq2_xxs", "IQ2_XS": "iq2_xs", "IQ2_M": "iq2_s", "IQ3_XXS": "iq3_xxs", "IQ3_S": "iq3_s",
         "IQ1_S": "iq1_s", "IQ1_M": "iq1_m"}


def tensors_of(path, gguf, everything=False):
    reader = gguf.GGUFReader(path)
    out = {}
    for t in reader.tensors:
        if not everything and (len(t.shape) < 2 or t.name.endswith("_norm.weight")):
            continue
        out[t.name] = (t.tensor_type.name, xxhash.xxh3_128_hexdigest(bytes(t.data.tobytes())))
    return out


def main():
    llama, tests = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(llama, "gguf-py"))
    import gguf
    binaries = os.path.join(llama, "build", "bin")
    runs = []
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([tests, "[.parity-inputs]"], env={**os.environ, "QUANTLENS_PARITY_DIR": work}, check=True)
        source, imatrix = os.path.join(work, "model.f16.gguf"), os.path.join(work, "imatrix.gguf")
        # (type, with the imatrix, token_embd kept F16): the types ggml cannot write without
        # importance also run with the embedding (which llama-imatrix never covers) left F16.
        cases = [(name, weighted, False) for name in TYPES for weighted in (False, True)]
        cases += [(name, True, True) for name in ("IQ2_XXS", "IQ2_XS", "IQ1_S")]
        for name, weighted, embd_f16 in cases:
            spec = TYPES[name]
            if True:
                out = os.path.join(work, "%s%s.gguf" % (name, ".imatrix" if weighted else ""))
                command = [os.path.join(binaries, "llama-quantize"), "--pure"]
                if weighted:
                    command += ["--imatrix", imatrix]
                if embd_f16:
                    command += ["--token-embedding-type", "f16"]
                done = subprocess.run(command + [source, out, name, "1"], capture_output=True, text=True)
                if done.returncode != 0:
                    # The grid i-quants without an importance matrix where llama-quantize (or
                    # ggml under it) needs one: it stops, and so must QuantLens.
                    output = (done.stderr + done.stdout).splitlines()
                    lines = [l for l in output if "GGML_ASSERT" in l] or \
                            [l for l in output if "requires an imatrix" in l or "Missing importance" in l]
                    runs.append({"type": name, "spec": spec, "imatrix": weighted, "refused": True,
                                 "why": lines[0].strip() if lines else "exit %d" % done.returncode})
                    print(name, "imatrix" if weighted else "", "refused:", runs[-1]["why"])
                    continue
                tensors = tensors_of(out, gguf)
                runs.append({"type": name, "spec": spec, "imatrix": weighted, "token_embd_f16": embd_f16,
                             "types": {k: v[0] for k, v in tensors.items()},
                             "tensors": {k: v[1] for k, v in tensors.items()}})
                print(name, "imatrix" if weighted else "", len(tensors), "tensors")
        for fmt in ("gguf", "dat"):
            target = os.path.join(work, "rewritten." + fmt)
            # -m is required but, with no prompt, only the matrices are combined and written
            subprocess.run([os.path.join(binaries, "llama-imatrix"), "-m", source, "--in-file", imatrix,
                            "-o", target, "--output-format", fmt], check=True, capture_output=True)
            shutil.copy(target, os.path.join(golden, "imatrix_rewritten." + fmt))
        mix_source, mix_imatrix = os.path.join(work, "mix.f16.gguf"), os.path.join(work, "mix.imatrix.gguf")
        mix_runs, q4_k_m = [], {}
        for mix in MIXES:
            for weighted in (False, True):
                out = os.path.join(work, "mix-%s%s.gguf" % (mix, ".imatrix" if weighted else ""))
                command = [os.path.join(binaries, "llama-quantize")]
                if weighted:
                    command += ["--imatrix", mix_imatrix]
                subprocess.run(command + [mix_source, out, mix, "1"], check=True, capture_output=True)
                tensors = tensors_of(out, gguf, everything=True)
                mix_runs.append({"mix": mix, "imatrix": weighted, "types": {k: v[0] for k, v in tensors.items()}})
                if mix == "Q4_K_M" and not weighted:
                    q4_k_m = {k: v[1] for k, v in tensors.items() if v[0] not in ("F16", "F32")}
        for mix in DRY_MIXES:
            for weighted in (False, True):
                command = [os.path.join(binaries, "llama-quantize"), "--dry-run"]
                if weighted:
                    command += ["--imatrix", mix_imatrix]
                done = subprocess.run(command + [mix_source, mix, "1"], check=True, capture_output=True, text=True)
                types = dry_run_types(done.stdout + done.stderr)
                mix_runs.append({"mix": mix, "imatrix": weighted, "types": types})
                print("mix", mix, "imatrix" if weighted else "", len(types), "tensors (dry run)")
        commit = subprocess.run(["git", "-C", llama, "rev-parse", "HEAD"], capture_output=True, text=True)
    with open(os.path.join(golden, "llama_quantize_mixes.json"), "w") as f:
        json.dump({"llama_cpp_commit": commit.stdout.strip(), "runs": mix_runs, "q4_k_m_digests": q4_k_m}, f,
                  separators=(",", ":"))
        f.write("\n")
    with open(os.path.join(golden, "llama_quantize_digests.json"), "w") as f:
        json.dump({"llama_cpp_commit": commit.stdout.strip(), "runs": runs}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
