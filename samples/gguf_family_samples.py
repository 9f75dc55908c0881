#!/usr/bin/env python3
"""GGUF files of the decoder families and llama.cpp's own logits for them: the goldens of the
engine's GGUF models (tests/core/gguf_models_test.cpp).

For each tiny Hugging Face model samples/family_samples.py wrote (tests/data/golden/families/),
llama.cpp's converter, convert_hf_to_gguf.py from a checkout built outside the repository,
writes an F32 GGUF (its tensor names, its q/k row permutation for the llama architecture, its
+1 on Gemma's norm weights, its rope_freqs for Llama 3.1), and llama.cpp evaluates the logits of
the calibration ids with samples/ggml/eval_logits.c. The tiny models have no tokenizer, so the
converter's vocabulary step is replaced by a plain list of token strings (llama.cpp reads ids).

    git clone <node-llama-cpp's llama/gitRelease.bundle> /tmp/llama.cpp   (or any llama.cpp checkout)
    cmake -S /tmp/llama.cpp -B /tmp/llama.cpp/build -DLLAMA_CURL=OFF && cmake --build /tmp/llama.cpp/build --target llama
    /usr/bin/python3 samples/gguf_family_samples.py /tmp/llama.cpp

Writes tests/data/golden/families/<name>/model.gguf and llamacpp_logits.npz (float32 logits
[samples, tokens * vocab], and the llama.cpp commit). Nothing of llama.cpp is copied.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FAMILIES = os.path.join(ROOT, "tests", "data", "golden", "families")
# llama-yarn is left out: llama.cpp's YaRN is its own formula, which the engine refuses in GGUF files
NAMES = ["llama3", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"]


def convert(llama_cpp, folder, out):
    sys.path[:0] = [llama_cpp, os.path.join(llama_cpp, "gguf-py")]
    # transformers is not in Debian 12: the converter's AutoConfig then falls back, as it is
    # written to, to reading config.json itself
    stub = types.ModuleType("transformers")

    class AutoConfig:
        @staticmethod
        def from_pretrained(*args, **kwargs):
            raise OSError("transformers is not installed")
    stub.AutoConfig = AutoConfig
    sys.modules["transformers"] = stub
    # Debian's PyTorch 1.13 predates these dtypes; the converter only names them in tables
    import torch
    for name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "uint16", "uint32", "uint64"):
        if not hasattr(torch, name):
            setattr(torch, name, type(name, (), {})())
    import convert_hf_to_gguf as converter
    import gguf

    def plain_vocab(self):
        n = self.hparams["vocab_size"]
        self.gguf_writer.add_tokenizer_model("llama")
        self.gguf_writer.add_tokenizer_pre("default")
        # llama.cpp's SPM vocabulary looks up the newline byte, and for Phi-3 <|endoftext|>
        special = ["<unk>", "<s>", "</s>", "<0x0A>", "<|endoftext|>"]
        self.gguf_writer.add_token_list(special + [f"<t{i}>" for i in range(len(special), n)])
        self.gguf_writer.add_token_scores([0.0] * n)
        self.gguf_writer.add_token_types([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL,
                                          gguf.TokenType.BYTE, gguf.TokenType.CONTROL]
                                         + [gguf.TokenType.NORMAL] * (n - len(special)))
        self.gguf_writer.add_bos_token_id(1)
        self.gguf_writer.add_eos_token_id(2)

    original = converter.get_model_class

    def with_plain_vocab(*args, **kwargs):
        cls = original(*args, **kwargs)
        cls.set_vocab = plain_vocab
        return cls
    converter.get_model_class = with_plain_vocab
    sys.argv = ["convert_hf_to_gguf.py", folder, "--outtype", "f32", "--outfile", out]
    converter.main()


def main():
    llama_cpp = os.path.abspath(sys.argv[1])
    commit = subprocess.run(["git", "-C", llama_cpp, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    build = os.path.join(llama_cpp, "build")
    work = tempfile.mkdtemp()
    tool = os.path.join(work, "eval_logits")
    lib = os.path.join(build, "bin")
    subprocess.run(["cc", "-O2", os.path.join(HERE, "ggml", "eval_logits.c"), "-I", os.path.join(llama_cpp, "include"),
                    "-I", os.path.join(llama_cpp, "ggml", "include"), "-L", lib, "-lllama", "-lggml", "-lggml-base",
                    f"-Wl,-rpath,{lib}", "-o", tool], check=True)
    for name in NAMES:
        folder = os.path.join(FAMILIES, name)
        config = json.load(open(os.path.join(folder, "config.json")))
        staged = os.path.join(work, name)  # the converter reads tokenizer.json for Gemma 3's vocabulary size
        shutil.copytree(folder, staged)
        with open(os.path.join(staged, "tokenizer.json"), "w") as f:
            json.dump({"model": {"vocab": {f"<t{i}>": i for i in range(config["vocab_size"])}}, "added_tokens": []}, f)
        out = os.path.join(folder, "model.gguf")
        pid = os.fork()  # the converter's module state is per run
        if pid == 0:
            convert(llama_cpp, staged, out)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert status == 0, name
        ids = np.load(os.path.join(folder, "calib.npz"))["input_ids"]
        samples, tokens = ids.shape
        run = subprocess.run([tool, out, str(tokens), str(samples)], input=ids.astype(np.int32).tobytes(),
                             capture_output=True, check=True)
        logits = np.frombuffer(run.stdout, dtype=np.float32).reshape(samples, -1)
        assert logits.shape[1] == tokens * config["vocab_size"], name
        np.savez_compressed(os.path.join(folder, "llamacpp_logits.npz"), logits=logits,
                            commit=np.frombuffer(commit.encode(), dtype=np.uint8))
        golden = np.load(os.path.join(folder, "engine.npz"))["logits"]
        print(f"{name}: llama.cpp against PyTorch float64, max |Δlogit| {np.abs(logits - golden).max():.2e}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
