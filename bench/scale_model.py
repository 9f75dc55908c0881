#!/usr/bin/env python3
"""Writes a Hugging Face folder of a decoder with a real model's shapes and random bf16 weights,
and a calibration file of random token ids, for timing the engine at scale (issue 17).

    bench/scale_model.py PRESET OUT_DIR [--sparse] [--samples N] [--tokens T]

Presets (shapes from the models' published config.json files):
    smollm-360m     llama, hidden 960, 32 blocks, 15 heads / 5 kv, MLP 2560, vocabulary 49152
    tinyllama-1.1b  llama, hidden 2048, 22 blocks, 32 heads / 4 kv, MLP 5632, vocabulary 32000
    qwen2.5-0.5b    qwen2, hidden 896, 24 blocks, 14 heads / 2 kv, MLP 4864, vocabulary 151936
    llama3.2-1b     llama (rope_scaling llama3), hidden 2048, 16 blocks, 32 / 8, MLP 8192, 128256
    mistral-7b      mistral, hidden 4096, 32 blocks, 32 heads / 8 kv, MLP 14336, vocabulary 32000

--sparse writes the safetensors header and leaves the data a hole (zeros, no disk): enough for
`quantlens-cli sensitivity --dry-run`, which reads shapes and no weights, at any size.
Weights are N(0, 0.02²) rounded to bf16, norms 1, biases 0.
"""
import argparse
import json
import os
import struct

import numpy as np

PRESETS = {
    "smollm-360m": dict(model_type="llama", hidden_size=960, num_hidden_layers=32, num_attention_heads=15,
                        num_key_value_heads=5, intermediate_size=2560, vocab_size=49152,
                        tie_word_embeddings=True, rope_theta=100000.0),
    "tinyllama-1.1b": dict(model_type="llama", hidden_size=2048, num_hidden_layers=22, num_attention_heads=32,
                           num_key_value_heads=4, intermediate_size=5632, vocab_size=32000,
                           tie_word_embeddings=False, rope_theta=10000.0),
    "qwen2.5-0.5b": dict(model_type="qwen2", hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, intermediate_size=4864, vocab_size=151936,
                         tie_word_embeddings=True, rope_theta=1000000.0),
    "llama3.2-1b": dict(model_type="llama", hidden_size=2048, num_hidden_layers=16, num_attention_heads=32,
                        num_key_value_heads=8, intermediate_size=8192, vocab_size=128256,
                        tie_word_embeddings=True, rope_theta=500000.0,
                        rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0,
                                          high_freq_factor=4.0, original_max_position_embeddings=8192)),
    "mistral-7b": dict(model_type="mistral", hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=8, intermediate_size=14336, vocab_size=32000,
                       tie_word_embeddings=False, rope_theta=10000.0, sliding_window=4096),
}


def tensors(config):
    """(name, shape) of every tensor, in the order transformers' checkpoints list them."""
    h, v = config["hidden_size"], config["vocab_size"]
    d = h // config["num_attention_heads"]
    q, kv, m = config["num_attention_heads"] * d, config["num_key_value_heads"] * d, config["intermediate_size"]
    biased = config["model_type"] == "qwen2"
    yield "model.embed_tokens.weight", (v, h)
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (h,)
        for name, rows in (("q_proj", q), ("k_proj", kv), ("v_proj", kv)):
            yield p + f"self_attn.{name}.weight", (rows, h)
            if biased:
                yield p + f"self_attn.{name}.bias", (rows,)
        yield p + "self_attn.o_proj.weight", (h, q)
        yield p + "post_attention_layernorm.weight", (h,)
        yield p + "mlp.gate_proj.weight", (m, h)
        yield p + "mlp.up_proj.weight", (m, h)
        yield p + "mlp.down_proj.weight", (h, m)
    yield "model.norm.weight", (h,)
    if not config["tie_word_embeddings"]:
        yield "lm_head.weight", (v, h)


def bf16(name, shape, rng):
    if len(shape) == 1:
        values = np.ones(shape, np.float32) if name.endswith("norm.weight") else np.zeros(shape, np.float32)
    else:
        values = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    bits = values.view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even, as torch's bf16 cast
    return rounded.astype("<u2").tobytes()


def write_safetensors(path, config, sparse, rng):
    header, offset, entries = {}, 0, list(tensors(config))
    for name, shape in entries:
        size = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text)
        if sparse:
            out.truncate(8 + len(text) + offset)
            return offset
        for name, shape in entries:
            out.write(bf16(name, shape, rng))
    return offset


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument("out")
    parser.add_argument("--sparse", action="store_true")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    config = dict(architectures=["LlamaForCausalLM"], hidden_act="silu", rms_norm_eps=1e-5,
                  max_position_embeddings=4096, torch_dtype="bfloat16", **preset)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as out:
        json.dump(config, out, indent=2)
    rng = np.random.default_rng(17)
    size = write_safetensors(os.path.join(args.out, "model.safetensors"), config, args.sparse, rng)
    ids = rng.integers(0, config["vocab_size"], (args.samples, args.tokens), dtype=np.int64)
    np.savez(os.path.join(args.out, "calib.npz"), input_ids=ids)
    print(f"{args.out}: {args.preset}, {size / 2:.0f} parameters, {size / 2**30:.2f} GiB of bf16"
          f"{' (sparse)' if args.sparse else ''}; calib.npz {args.samples} x {args.tokens} tokens")


if __name__ == "__main__":
    main()
