#!/usr/bin/python3
"""Regenerates QuantLens's bundled samples and the golden files under tests/data.

Run with Debian's interpreter (python3-torch, python3-numpy, python3-h5py, python3-onnx,
python3-sklearn; `scripts/install-deps.sh --generators` installs them):

    /usr/bin/python3 samples/generate_samples.py

Everything here is written by an implementation independent of QuantLens's C++ readers:
safetensors and GGUF are packed byte by byte from their published specifications,
.npz by NumPy, HDF5 by h5py, ONNX by the onnx package, and values come from PyTorch /
NumPy. Seeds are fixed, so the output is reproducible.
"""
import json
import os
import struct

import h5py
import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits

import engine_samples  # the model engine's samples and goldens (samples/engine_samples.py)
import lm_samples  # the byte-level language models and their goldens (samples/lm_samples.py)
import family_samples  # tiny models of today's decoder families and their goldens (samples/family_samples.py)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOLDEN = os.path.join(ROOT, "tests", "data", "golden")


# --- safetensors (huggingface/safetensors README, "Format") -------------------------------
ST_DTYPES = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("float64"): "F64",
             np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int8"): "I8",
             np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL", np.dtype("int16"): "I16"}


def write_safetensors(path, tensors, metadata=None, dtype_override=None):
    """tensors: list of (name, ndarray); dtype_override: name -> (dtype string, raw bytes)."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, array in tensors:
        if dtype_override and name in dtype_override:
            dtype, raw = dtype_override[name]
        else:
            array = np.ascontiguousarray(array)
            dtype, raw = ST_DTYPES[array.dtype], array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# --- tiny GPT-2 in Hugging Face layout -------------------------------------------------
def tiny_gpt2(folder, n_layer=2, n_embd=64, n_head=4, vocab=256, n_positions=128):
    """GPT-2 shapes and initialisation (normal, std 0.02; LayerNorm 1/0) at toy size. The
    weights are untrained: this sample exercises the readers, not model quality."""
    g = torch.Generator().manual_seed(1234)
    normal = lambda *shape: (torch.randn(*shape, generator=g) * 0.02).numpy().astype(np.float32)
    tensors = [("transformer.wte.weight", normal(vocab, n_embd)),
               ("transformer.wpe.weight", normal(n_positions, n_embd))]
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        tensors += [
            (p + "ln_1.weight", np.ones(n_embd, np.float32)), (p + "ln_1.bias", np.zeros(n_embd, np.float32)),
            (p + "attn.c_attn.weight", normal(n_embd, 3 * n_embd)), (p + "attn.c_attn.bias", np.zeros(3 * n_embd, np.float32)),
            (p + "attn.c_proj.weight", normal(n_embd, n_embd)), (p + "attn.c_proj.bias", np.zeros(n_embd, np.float32)),
            (p + "ln_2.weight", np.ones(n_embd, np.float32)), (p + "ln_2.bias", np.zeros(n_embd, np.float32)),
            (p + "mlp.c_fc.weight", normal(n_embd, 4 * n_embd)), (p + "mlp.c_fc.bias", np.zeros(4 * n_embd, np.float32)),
            (p + "mlp.c_proj.weight", normal(4 * n_embd, n_embd)), (p + "mlp.c_proj.bias", np.zeros(n_embd, np.float32)),
        ]
    tensors += [("transformer.ln_f.weight", np.ones(n_embd, np.float32)), ("transformer.ln_f.bias", np.zeros(n_embd, np.float32))]
    os.makedirs(folder, exist_ok=True)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": vocab, "n_positions": n_positions,
              "n_embd": n_embd, "n_layer": n_layer, "n_head": n_head, "n_inner": None, "activation_function": "gelu_new",
              "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True, "bos_token_id": 0, "eos_token_id": 0}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(folder, "model.safetensors"), tensors, {"format": "pt"})
    return tensors


# --- tiny LLaMA in Hugging Face layout ---------------------------------------------------
def tiny_llama(folder, n_layer=2, hidden=64, n_head=4, n_kv_head=2, intermediate=128, vocab=256):
    """LLaMA shapes (grouped-query attention: 4 query heads, 2 key/value heads) at toy size, in
    LlamaForCausalLM's names, [out, in] nn.Linear weights, untied head. Weights are drawn at
    initialisation scale (normal, std 0.02; RMSNorm 1) with a fixed seed, untrained."""
    g = torch.Generator().manual_seed(4321)
    normal = lambda *shape: (torch.randn(*shape, generator=g) * 0.02).numpy().astype(np.float32)
    head_dim = hidden // n_head
    tensors = [("model.embed_tokens.weight", normal(vocab, hidden))]
    for i in range(n_layer):
        p = f"model.layers.{i}."
        tensors += [
            (p + "input_layernorm.weight", np.ones(hidden, np.float32)),
            (p + "self_attn.q_proj.weight", normal(n_head * head_dim, hidden)),
            (p + "self_attn.k_proj.weight", normal(n_kv_head * head_dim, hidden)),
            (p + "self_attn.v_proj.weight", normal(n_kv_head * head_dim, hidden)),
            (p + "self_attn.o_proj.weight", normal(hidden, n_head * head_dim)),
            (p + "post_attention_layernorm.weight", np.ones(hidden, np.float32)),
            (p + "mlp.gate_proj.weight", normal(intermediate, hidden)),
            (p + "mlp.up_proj.weight", normal(intermediate, hidden)),
            (p + "mlp.down_proj.weight", normal(hidden, intermediate)),
        ]
    tensors += [("model.norm.weight", np.ones(hidden, np.float32)), ("lm_head.weight", normal(vocab, hidden))]
    os.makedirs(folder, exist_ok=True)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab, "hidden_size": hidden,
              "intermediate_size": intermediate, "num_hidden_layers": n_layer, "num_attention_heads": n_head,
              "num_key_value_heads": n_kv_head, "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
              "hidden_act": "silu", "tie_word_embeddings": False, "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(folder, "model.safetensors"), tensors, {"format": "pt"})

    # llama.cpp's converter (convert_hf_to_gguf.py, LlamaModel.permute) reorders q_proj/k_proj
    # rows for its rotary layout; this is that reshape/swapaxes in PyTorch, the golden for the
    # C++ export. K uses the key/value head count.
    def permute(w, heads):
        w = torch.from_numpy(w)
        return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape).numpy()
    named = dict(tensors)
    np.savez(os.path.join(GOLDEN, "llama_gguf_permuted.npz"),
             attn_q=permute(named["model.layers.0.self_attn.q_proj.weight"], n_head),
             attn_k=permute(named["model.layers.0.self_attn.k_proj.weight"], n_kv_head))


def packed_fuzz_seeds():
    """Seeds for the pack-quantized reader's fuzz target: two small modules, symmetric
    per channel and asymmetric per group of 8, in compressed-tensors' layout."""
    folder = os.path.join(ROOT, "tests", "fuzz", "corpus", "packed")
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, "sym_channel.safetensors")
    write_safetensors(tmp, [("m.weight_shape", np.array([2, 16], np.int64)), ("m.weight_packed", np.arange(4, dtype=np.int32).reshape(2, 2) * 0x11111111),
                            ("m.weight_scale", np.array([[0.5], [0.25]], np.float32))])
    tmp = os.path.join(folder, "asym_group.safetensors")
    write_safetensors(tmp, [("m.weight_shape", np.array([8, 16], np.int64)), ("m.weight_packed", np.full((8, 2), 0x76543210, np.int32)),
                            ("m.weight_scale", np.full((8, 2), 0.1, np.float32)), ("m.weight_zero_point", np.full((1, 2), 0x11111111, np.int32))])


def compressed_tensors_goldens():
    """compressed-tensors' pack-quantized layout (pack_to_int32 in its pack_quantized.py): signed
    values shifted by 2^(b-1), then value k of each 32-bit word at bits k*b. Written here with
    PyTorch tensor ops from that description; rows are padded with zeros."""
    g = torch.Generator().manual_seed(99)
    out = {}
    for bits in (4, 8):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        values = torch.randint(lo, hi + 1, (5, 19), generator=g, dtype=torch.int32)
        per_word = 32 // bits
        padded_cols = -(-values.shape[1] // per_word) * per_word
        shifted = torch.nn.functional.pad(values + (1 << (bits - 1)), (0, padded_cols - values.shape[1]))
        words = shifted.view(values.shape[0], -1, per_word).to(torch.int64)
        packed = (words << (torch.arange(per_word, dtype=torch.int64) * bits)).sum(dim=2)
        packed = ((packed + 2**31) % 2**32 - 2**31).to(torch.int32)  # the same 32 bits as a signed word
        out[f"values{bits}"] = values.numpy()
        out[f"packed{bits}"] = packed.numpy()
        # zero points are packed down the output dimension (packed_dim=0): pack the transpose
        t = values.T.contiguous()
        shifted_t = torch.nn.functional.pad(t + (1 << (bits - 1)), (0, -(-t.shape[1] // per_word) * per_word - t.shape[1]))
        words_t = shifted_t.view(t.shape[0], -1, per_word).to(torch.int64)
        packed_t = (words_t << (torch.arange(per_word, dtype=torch.int64) * bits)).sum(dim=2)
        out[f"packed{bits}_dim0"] = ((packed_t + 2**31) % 2**32 - 2**31).to(torch.int32).T.contiguous().numpy()
    np.savez(os.path.join(GOLDEN, "compressed_tensors_pack.npz"), **out)


# --- Keras .h5 layout (Keras 2 saving/legacy/hdf5_format.py) ------------------------------
def digits_mlp(path):
    """A 64-32-10 MLP trained on scikit-learn's handwritten digits, saved as Keras 2 does."""
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    accuracy = (net(x).argmax(1) == y).float().mean().item()
    layers = [("dense", net[0], "relu"), ("dense_1", net[2], "softmax")]
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 64], "dtype": "float32", "name": "dense_input"}}] + [
        {"class_name": "Dense", "config": {"name": name, "trainable": True, "dtype": "float32", "units": layer.out_features,
                                           "activation": act, "use_bias": True}} for name, layer, act in layers]}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.12.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([b"dense_input"] + [name.encode() for name, _, _ in layers])
        weights.create_group("dense_input").attrs["weight_names"] = np.array([], dtype="S1")
        for name, layer, _ in layers:
            group = weights.create_group(name)
            group.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()])
            group.create_dataset(f"{name}/kernel:0", data=layer.weight.detach().numpy().T)  # Keras: [in, out]
            group.create_dataset(f"{name}/bias:0", data=layer.bias.detach().numpy())
    return accuracy, net


# --- GGUF (ggml docs/gguf.md) with ggml reference quantizers (ggml-quants.c) ----------------
def f16(x):
    return np.float32(np.float16(x))


def q8_0(row):
    blocks = []
    for b in row.reshape(-1, 32).astype(np.float32):
        amax = np.float32(np.max(np.abs(b)))
        d = np.float32(amax / np.float32(127))
        idv = np.float32(1) / d if d != 0 else np.float32(0)
        q = [int(np.sign(v) * np.floor(abs(np.float64(np.float32(v * idv))) + 0.5)) for v in b]  # C roundf
        blocks.append(struct.pack("<e", d) + struct.pack("<32b", *q))
    return b"".join(blocks)


def q4_0(row):
    blocks = []
    for b in row.reshape(-1, 32).astype(np.float32):
        idx = int(np.argmax(np.abs(b)))  # first element with the largest magnitude, sign kept
        mx = b[idx]
        d = np.float32(mx / np.float32(-8))
        idv = np.float32(1) / d if d != 0 else np.float32(0)
        def code(v):
            return min(15, int(np.float32(np.float32(v * idv) + np.float32(8.5))))  # (int8) truncates
        qs = bytes(code(b[j]) | (code(b[j + 16]) << 4) for j in range(16))
        blocks.append(struct.pack("<e", d) + qs)
    return b"".join(blocks)


def gguf_string(s):
    s = s.encode()
    return struct.pack("<Q", len(s)) + s


def write_gguf(path, kvs, tensors, alignment=32):
    """kvs: list of (key, type id, packed value bytes); tensors: (name, shape, ggml type, raw bytes)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, vtype, raw in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + raw
    offset, datas = 0, []
    for name, shape, gtype, raw in tensors:
        out += gguf_string(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in reversed(shape))
        out += struct.pack("<IQ", gtype, offset)
        pad = (alignment - len(raw) % alignment) % alignment
        datas.append(raw + b"\0" * pad)
        offset += len(raw) + pad
    out += b"\0" * ((alignment - len(out) % alignment) % alignment)
    with open(path, "wb") as f:
        f.write(out + b"".join(datas))


def tiny_gguf(path, gpt2_tensors):
    """The tiny GPT-2's first block in llama.cpp's naming with F32, F16, Q8_0 and Q4_0 tensors;
    returns the values llama.cpp's dequantizers would produce, for the golden file."""
    named = dict(gpt2_tensors)
    emb = named["transformer.wte.weight"]
    qkv = np.ascontiguousarray(named["transformer.h.0.attn.c_attn.weight"].T)   # GGUF stores [out, in] rows
    fc = np.ascontiguousarray(named["transformer.h.0.mlp.c_fc.weight"].T)
    norm = named["transformer.h.0.ln_1.weight"]
    kvs = [("general.architecture", 8, gguf_string("gpt2")), ("general.name", 8, gguf_string("quantlens tiny gpt2")),
           ("gpt2.block_count", 4, struct.pack("<I", 1)), ("gpt2.embedding_length", 4, struct.pack("<I", 64)),
           ("general.alignment", 4, struct.pack("<I", 32)),
           ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + b"".join(gguf_string(t) for t in ["<a>", "<b>", "<c>"])),
           ("gpt2.attention.layer_norm_epsilon", 6, struct.pack("<f", 1e-5))]
    tensors = [("token_embd.weight", list(emb.shape), 1, emb.astype(np.float16).tobytes()),
               ("blk.0.attn_norm.weight", list(norm.shape), 0, norm.tobytes()),
               ("blk.0.attn_qkv.weight", list(qkv.shape), 8, q8_0(qkv)),
               ("blk.0.ffn_up.weight", list(fc.shape), 2, q4_0(fc))]
    write_gguf(path, kvs, tensors)
    return {"token_embd.weight": emb.astype(np.float16).astype(np.float32), "blk.0.attn_norm.weight": norm,
            "blk.0.attn_qkv.weight": dequant_q8_0(q8_0(qkv)).reshape(qkv.shape), "blk.0.ffn_up.weight": dequant_q4_0(q4_0(fc)).reshape(fc.shape)}


def min_scale(b, top_code):
    """Q4_1/Q5_1 header values: min, d = (max - min) / top code, and 1/d (0 when d is 0)."""
    mn, mx = np.float32(b.min()), np.float32(b.max())
    d = np.float32(np.float32(mx - mn) / np.float32(top_code))
    return mn, d, (np.float32(1) / d if d != 0 else np.float32(0))


def q4_1(row):
    blocks = []
    for b in row.reshape(-1, 32).astype(np.float32):
        mn, d, idv = min_scale(b, 15)
        def code(v):
            return min(15, int(np.float32(np.float32(np.float32(v - mn) * idv) + np.float32(0.5))))
        qs = bytes(code(b[j]) | (code(b[j + 16]) << 4) for j in range(16))
        blocks.append(struct.pack("<ee", d, mn) + qs)
    return b"".join(blocks)


def pack5(q):
    qs = bytes((q[j] & 15) | ((q[j + 16] & 15) << 4) for j in range(16))
    qh = 0
    for j in range(16):
        qh |= ((q[j] & 0x10) >> 4) << j
        qh |= ((q[j + 16] & 0x10) >> 4) << (j + 16)
    return struct.pack("<I", qh), qs


def q5_0(row):
    blocks = []
    for b in row.reshape(-1, 32).astype(np.float32):
        mx = b[int(np.argmax(np.abs(b)))]
        d = np.float32(mx / np.float32(-16))
        idv = np.float32(1) / d if d != 0 else np.float32(0)
        q = [min(31, int(np.float32(np.float32(v * idv) + np.float32(16.5)))) for v in b]
        qh, qs = pack5(q)
        blocks.append(struct.pack("<e", d) + qh + qs)
    return b"".join(blocks)


def q5_1(row):
    blocks = []
    for b in row.reshape(-1, 32).astype(np.float32):
        mn, d, idv = min_scale(b, 31)
        q = [int(np.float32(np.float32(np.float32(v - mn) * idv) + np.float32(0.5))) & 0xFF for v in b]
        qh, qs = pack5(q)
        blocks.append(struct.pack("<ee", d, mn) + qh + qs)
    return b"".join(blocks)


def ggml_goldens():
    """Blocks from a NumPy float32 transcription of llama.cpp's quantize_row_*_ref, for
    random blocks of several scales plus edge cases: all zeros, constant, exact ties."""
    rng = np.random.default_rng(11)
    parts = [rng.standard_normal(32 * 40).astype(np.float32),
             (rng.standard_t(3, 32 * 40) * 0.02).astype(np.float32),
             rng.uniform(-1000, 1000, 32 * 8).astype(np.float32),
             np.zeros(32, np.float32), np.full(32, 0.75, np.float32), np.full(32, -3.0, np.float32),
             (np.arange(32, dtype=np.float32) - 16) / np.float32(8),   # many exact halves after scaling
             np.where(np.arange(32) % 2 == 0, 1.0, -1.0).astype(np.float32) * np.float32(127.0)]
    values = np.concatenate(parts).astype(np.float32)
    blocks = {"input": values}
    for name, fn in [("q8_0", q8_0), ("q4_0", q4_0), ("q4_1", q4_1), ("q5_0", q5_0), ("q5_1", q5_1)]:
        blocks[name] = np.frombuffer(fn(values), dtype=np.uint8)
    np.savez(os.path.join(GOLDEN, "ggml_blocks.npz"), **blocks)


def torch_quant_goldens():
    """PyTorch's observers + fake_quantize for the integer schemes QuantLens names
    int8:channel:sym:full (qint8 per-channel symmetric), int8:tensor:asym (quint8 affine) and
    int4:channel:asym (quant range 0..15)."""
    from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver
    g = torch.Generator().manual_seed(21)
    w = (torch.randn(64, 128, generator=g) * 0.05 + torch.randn(64, 1, generator=g) * 0.01).float()
    out = {"weights": w.numpy()}
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    obs(w)
    scale, zero = obs.calculate_qparams()
    out["int8_channel_sym_full"] = torch.fake_quantize_per_channel_affine(w, scale.float(), zero.int(), 0, -128, 127).numpy()
    obs = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    obs(w)
    scale, zero = obs.calculate_qparams()
    out["int8_tensor_asym"] = torch.fake_quantize_per_tensor_affine(w, float(scale), int(zero), 0, 255).numpy()
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine, quant_min=0, quant_max=15)
    obs(w)
    scale, zero = obs.calculate_qparams()
    out["int4_channel_asym"] = torch.fake_quantize_per_channel_affine(w, scale.float(), zero.int(), 0, 0, 15).numpy()
    np.savez(os.path.join(GOLDEN, "torch_fake_quant.npz"), **out)


def torch_edge_goldens():
    """PyTorch's observers + fake_quantize on rows a real network has and a naive quantizer
    turns into NaN: zero but one subnormal, all zeros, ±0, subnormals only, tiny normals, values
    below float32's epsilon times the grid (the observers clamp scales at eps = 2^-23), plus an
    ordinary row. Per-channel schemes, so each row keeps its own scale."""
    from torch.ao.quantization.observer import PerChannelMinMaxObserver
    g = torch.Generator().manual_seed(5)
    rows = [torch.zeros(64) for _ in range(8)]
    rows[0][0] = 1e-39                                          # zero but one subnormal
    rows[2][::2] = -0.0                                         # ±0
    rows[3] = torch.tensor([(-1) ** i * 2.0 ** (-140 + i % 13) for i in range(64)])  # subnormals only
    rows[4] = torch.tensor([1.1754944e-38 * (i % 5) * (1 if i % 3 else -1) for i in range(64)])  # tiny normals
    rows[5] = torch.randn(64, generator=g) * 1e-6              # below 127.5·eps: scale clamped
    rows[6] = torch.randn(64, generator=g) * 3e-5              # just above it
    rows[7] = torch.randn(64, generator=g) * 0.05              # ordinary
    w = torch.stack(rows).float()
    out = {"weights": w.numpy()}
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    obs(w)
    scale, zero = obs.calculate_qparams()
    out["int8_channel_sym_full"] = torch.fake_quantize_per_channel_affine(w, scale.float(), zero.int(), 0, -128, 127).numpy()
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine, quant_min=0, quant_max=15)
    obs(w)
    scale, zero = obs.calculate_qparams()
    out["int4_channel_asym"] = torch.fake_quantize_per_channel_affine(w, scale.float(), zero.int(), 0, 0, 15).numpy()
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine)
    obs(w)
    scale, zero = obs.calculate_qparams()
    out["int8_channel_asym"] = torch.fake_quantize_per_channel_affine(w, scale.float(), zero.int(), 0, 0, 255).numpy()
    np.savez(os.path.join(GOLDEN, "torch_fake_quant_edge.npz"), **out)


def stats_goldens():
    """scipy.stats on float64 copies of float32 arrays: mean, std (ddof=0), skew and kurtosis
    (Fisher, biased: scipy's defaults), and the per-row kurtosis distribution."""
    from scipy import stats
    rng = np.random.default_rng(31)
    cases = {
        "normal": rng.standard_normal((64, 200)).astype(np.float32) * np.float32(0.02),
        "heavy": (rng.standard_t(3, (32, 300)) * 0.01).astype(np.float32),
        "skewed_offset": (rng.gamma(2.0, 1.0, (16, 257)) + 1000.0).astype(np.float32),
        "sparse": np.where(rng.random((8, 128)) < 0.7, 0, rng.standard_normal((8, 128))).astype(np.float32),
    }
    out = {}
    for name, data in cases.items():
        x = data.astype(np.float64)
        flat = x.ravel()
        row_kurtosis = np.sort(stats.kurtosis(x, axis=1, fisher=True, bias=True))
        rank = lambda p: row_kurtosis[max(1, int(np.ceil(p / 100 * len(row_kurtosis)))) - 1]
        mean, std = flat.mean(), flat.std()
        out[name] = data
        out[name + "_expected"] = np.array([
            flat.mean(), std, stats.skew(flat, bias=True), stats.kurtosis(flat, fisher=True, bias=True),
            np.abs(flat).max() / np.abs(flat).mean(), np.mean(np.abs(flat - mean) > 3 * std), np.mean(flat == 0),
            rank(50), rank(95), row_kurtosis[-1]], dtype=np.float64)
    # Spearman's rho with ties, as scipy.stats.spearmanr computes it
    a = rng.integers(0, 6, 40).astype(np.float64)
    b = a * 0.5 + rng.integers(0, 4, 40)
    c = rng.standard_normal(40)
    out["spearman_series"] = np.stack([a, b, c])
    out["spearman_expected"] = np.array([stats.spearmanr(a, b).correlation, stats.spearmanr(a, c).correlation,
                                         stats.spearmanr(b, c).correlation], dtype=np.float64)
    # ... and its two-sided p-value (Student's t on n − 2 degrees of freedom), on the same series
    # and on a short one (the 15 layers of a small model)
    out["spearman_pvalue"] = np.array([stats.spearmanr(a, b).pvalue, stats.spearmanr(a, c).pvalue,
                                       stats.spearmanr(b, c).pvalue], dtype=np.float64)
    out["spearman_short"] = np.stack([b[:15], c[:15]])
    short = stats.spearmanr(b[:15], c[:15])
    out["spearman_short_expected"] = np.array([short.correlation, short.pvalue], dtype=np.float64)
    np.savez(os.path.join(GOLDEN, "scipy_stats.npz"), **out)


def qsur_goldens():
    """QSUR (docs/metrics.md §5) with NumPy's eigvalsh and SciPy's χ² quantile: rows are samples,
    covariance with ddof=1, eigenvalues floored at 1e-12·λ_max, confidence 0.99."""
    from scipy import special, stats
    rng = np.random.default_rng(47)
    mix = rng.standard_normal((12, 12))
    cases = {
        "aniso": (rng.standard_normal((300, 12)) @ mix * 0.05).astype(np.float32),
        "offset": (rng.standard_normal((200, 16)) * np.linspace(0.5, 2, 16) + np.linspace(-3, 5, 16)).astype(np.float32),
        "wide": rng.standard_normal((10, 40)).astype(np.float32),
        "heavy": (rng.standard_t(3, (500, 64)) * 0.02).astype(np.float32),
    }
    out = {}
    for name, data in cases.items():
        x = data.astype(np.float64)
        d = x.shape[1]
        mu = x.mean(axis=0)
        cov = np.cov(x, rowvar=False, ddof=1)
        lam = np.linalg.eigvalsh(cov)
        lam = np.maximum(lam, 1e-12 * lam.max())
        c = stats.chi2.ppf(0.99, d)
        r = np.sqrt(c * np.diag(cov))
        side = (mu + r).max() - (mu - r).min()
        log_q = d / 2 * np.log(np.pi) - special.gammaln(d / 2 + 1) + d / 2 * np.log(c) + 0.5 * np.log(lam).sum() - d * np.log(side)
        out[name] = data
        out[name + "_expected"] = np.array([log_q / np.log(10), np.exp(log_q / d)], dtype=np.float64)
    np.savez(os.path.join(GOLDEN, "qsur.npz"), **out)


def dequant_q8_0(raw):
    out = []
    for i in range(0, len(raw), 34):
        d = np.float32(struct.unpack("<e", raw[i:i + 2])[0])
        out += [np.float32(q) * d for q in struct.unpack("<32b", raw[i + 2:i + 34])]
    return np.array(out, np.float32)


def dequant_q4_0(raw):
    out = []
    for i in range(0, len(raw), 18):
        d = np.float32(struct.unpack("<e", raw[i:i + 2])[0])
        qs = raw[i + 2:i + 18]
        out += [np.float32((q & 15) - 8) * d for q in qs] + [np.float32((q >> 4) - 8) * d for q in qs]
    return np.array(out, np.float32)


# --- ONNX with every weight in a Constant node (as paddle2onnx exports) ---------------------
def constant_onnx(path, net):
    w1, b1 = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    w2, b2 = net[2].weight.detach().numpy(), net[2].bias.detach().numpy()
    const = lambda name, array: helper.make_node("Constant", [], [name], name=name + "_node",
                                                 value=numpy_helper.from_array(np.ascontiguousarray(array), name))
    nodes = [const("fc1.w", w1.T), const("fc1.b", b1), const("fc2.w", w2.T), const("fc2.b", b2),
             helper.make_node("MatMul", ["x", "fc1.w"], ["h0"], name="fc1"), helper.make_node("Add", ["h0", "fc1.b"], ["h1"], name="fc1_add"),
             helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
             helper.make_node("MatMul", ["h2", "fc2.w"], ["h3"], name="fc2"), helper.make_node("Add", ["h3", "fc2.b"], ["y"], name="fc2_add")]
    graph = helper.make_graph(nodes, "digits_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])])
    model = helper.make_model(graph, producer_name="quantlens-samples", opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def external_onnx(folder, net):
    """Gemm with transB=1 and weights in an external data file (tests only)."""
    w, b = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    init = [numpy_helper.from_array(w, "fc.weight"), numpy_helper.from_array(b, "fc.bias")]
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1)], "gemm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 32])], initializer=init)
    model = helper.make_model(graph, producer_name="quantlens-samples", opset_imports=[helper.make_opsetid("", 13)])
    os.makedirs(folder, exist_ok=True)
    for stale in ("gemm.onnx", "gemm.weights"):  # onnx appends to an existing external file
        if os.path.exists(os.path.join(folder, stale)):
            os.remove(os.path.join(folder, stale))
    onnx.save_model(model, os.path.join(folder, "gemm.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="gemm.weights", size_threshold=0)


def conversion_goldens():
    """Element-format conversions computed by PyTorch / NumPy for the C++ tests."""
    os.makedirs(GOLDEN, exist_ok=True)
    bits = np.arange(65536, dtype=np.uint16)
    np.save(os.path.join(GOLDEN, "f16_to_f32.npy"), torch.from_numpy(bits.view(np.int16)).view(torch.float16).float().numpy())
    np.save(os.path.join(GOLDEN, "bf16_to_f32.npy"), torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16).float().numpy())
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.standard_normal(3000).astype(np.float32) * np.float32(10) ** rng.integers(-9, 6, 3000).astype(np.float32),
                             np.array([0.0, -0.0, 65504, 65519.99, 65520, 1e-8, 2.98e-8, 5.96e-8, 6.1e-5, -6.1e-5, 3.4e38, np.inf, -np.inf], np.float32),
                             (np.arange(1000, dtype=np.float32) + np.float32(0.5)) * np.float32(2.0 ** -24)])
    np.save(os.path.join(GOLDEN, "f32_values.npy"), values.astype(np.float32))
    np.save(os.path.join(GOLDEN, "f32_to_f16_bits.npy"), values.astype(np.float16).view(np.uint16))
    np.save(os.path.join(GOLDEN, "f32_to_bf16_bits.npy"), torch.from_numpy(values).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16))


def fuzz_seeds():
    """Small valid inputs for each libFuzzer target (tests/fuzz/corpus/<target>/)."""
    corpus = os.path.join(ROOT, "tests", "fuzz", "corpus")
    def put(target, name, data):
        os.makedirs(os.path.join(corpus, target), exist_ok=True)
        with open(os.path.join(corpus, target, name), "wb") as f:
            f.write(data)
    tmp = os.path.join(corpus, "tmp.bin")
    write_safetensors(tmp, [("a.weight", np.arange(6, dtype=np.float32).reshape(2, 3)), ("a.bias", np.zeros(2, np.float16))], {"format": "pt"})
    put("safetensors", "two_tensors.safetensors", open(tmp, "rb").read())
    row = np.linspace(-1, 1, 32, dtype=np.float32)
    write_gguf(tmp, [("general.architecture", 8, gguf_string("llama")), ("a", 9, struct.pack("<IQ", 4, 2) + struct.pack("<II", 1, 2)),
                     ("n", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 0, 1) + b"\x07")],
               [("w", [1, 32], 2, q4_0(row)), ("x", [32], 0, row.tobytes())])
    put("gguf", "small.gguf", open(tmp, "rb").read())
    np.save(tmp + ".npy", np.arange(4, dtype="<f2"))
    put("numpy", "array.npy", open(tmp + ".npy", "rb").read())
    np.savez_compressed(tmp + ".npz", a=np.ones((2, 2), np.float32), b=np.arange(3))
    put("numpy", "deflated.npz", open(tmp + ".npz", "rb").read())
    np.savez(tmp + ".npz", a=np.ones(3, np.int8))
    put("numpy", "stored.npz", open(tmp + ".npz", "rb").read())
    for leftover in (tmp, tmp + ".npy", tmp + ".npz"):
        os.remove(leftover)
    put("config", "index.json", json.dumps({"metadata": {"total_size": 8}, "weight_map": {"a": "model-00001-of-00002.safetensors"}}).encode())
    put("config", "keras.json", json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Dense", "config": {"name": "dense", "units": 4}}, {"class_name": "DepthwiseConv2D", "config": {"name": "conv"}}]}}).encode())


def report_language_models(results):
    for name, (train_loss, held_out_loss) in results.items():
        print(f"{name}: last training batch loss {train_loss:.3f}, held-out next-byte loss {held_out_loss:.3f} nats")


def report_families(results):
    for name, loss in results.items():
        print(f"families/{name}: next-token loss {loss:.4f} nats on its random weights")


def main():
    import sys
    if sys.argv[1:] == ["--only", "engine"]:  # the engine's samples, calibration files and goldens alone
        engine_samples.main()
        report_language_models(lm_samples.main(write_safetensors))
        return
    if sys.argv[1:] == ["--only", "families"]:  # the decoder families' tiny models and goldens alone
        report_families(family_samples.main(write_safetensors))
        return
    if sys.argv[1:] == ["--only", "stats"]:  # SciPy's statistics goldens alone
        stats_goldens()
        return
    if sys.argv[1:] == ["--only", "edge"]:  # the adversarial-row goldens of PyTorch's fake quantization
        torch_edge_goldens()
        return
    if sys.argv[1:] == ["--only", "export"]:  # the export samples and goldens alone
        tiny_llama(os.path.join(HERE, "tiny-llama"))
        compressed_tensors_goldens()
        packed_fuzz_seeds()
        return
    torch.manual_seed(0)
    tiny_llama(os.path.join(HERE, "tiny-llama"))
    compressed_tensors_goldens()
    packed_fuzz_seeds()
    gpt2 = tiny_gpt2(os.path.join(HERE, "tiny-gpt2"))
    accuracy, net = digits_mlp(os.path.join(HERE, "digits-mlp.h5"))
    engine_samples.main()  # reads the MLP written just above
    report_language_models(lm_samples.main(write_safetensors))
    report_families(family_samples.main(write_safetensors))
    golden = tiny_gguf(os.path.join(HERE, "tiny-gpt2.gguf"), gpt2)
    np.savez(os.path.join(GOLDEN, "tiny_gguf_dequantized.npz"), **{k.replace(".", "_"): v for k, v in golden.items()})
    constant_onnx(os.path.join(HERE, "digits-mlp-constants.onnx"), net)
    external_onnx(os.path.join(ROOT, "tests", "data", "onnx-external"), net)
    named = dict(gpt2)
    np.savez_compressed(os.path.join(HERE, "tiny-gpt2-block0.npz"),
                        **{k.replace("transformer.", ""): v for k, v in gpt2 if k.startswith("transformer.h.0.")},
                        token_ids=np.arange(24, dtype=np.int64).reshape(2, 12))
    np.savez(os.path.join(ROOT, "tests", "data", "stored.npz"), w=named["transformer.h.0.mlp.c_fc.weight"],
             f64=np.linspace(-1, 1, 10), fortran=np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
             big=np.arange(6, dtype=">f4").reshape(2, 3), flags=np.array([True, False, True]))
    conversion_goldens()
    ggml_goldens()
    torch_edge_goldens()
    torch_quant_goldens()
    stats_goldens()
    qsur_goldens()
    fuzz_seeds()
    print(f"digits MLP training accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
