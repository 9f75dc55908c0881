#!/usr/bin/python3
"""Small quantized checkpoints in the layouts other tools publish, and the goldens QuantLens's
readers and `diff` are checked against (tests/data/checkpoints/, tests/data/golden/checkpoints/).

    /usr/bin/python3 samples/checkpoint_samples.py

One float base model (`base/`, three nn.Linear weights in Llama's names and a norm) is quantized
round-to-nearest here with PyTorch, then packed by following each tool's own packing code, cited
beside each writer below. Nothing here runs those tools: the layouts are transcribed from their
sources, and the dequantized values each golden holds are computed with PyTorch the way the tool's
own dequantizer computes them (dtype by dtype). For every checkpoint <name>:

    tests/data/checkpoints/<name>/config.json, model.safetensors
    tests/data/golden/checkpoints/<name>.npz   dequantized float32 weight per Linear (key: the
                                               weight's name, dots as '_'), and mse_<key>: the
                                               float64 mean squared error against the base

And for `diff`'s name pairing (tests/data/diff/): the tiny llama sample as an F16 GGUF with
llama.cpp's names and q/k row permutation, and as a Phi-3 style checkpoint with fused qkv_proj and
gate_up_proj, each with a golden of per-pair MSE.
"""
import json
import os
import struct

import numpy as np
import torch

from generate_samples import write_safetensors, write_gguf, gguf_string

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "tests", "data", "checkpoints")
GOLDEN = os.path.join(ROOT, "tests", "data", "golden", "checkpoints")
DIFF = os.path.join(ROOT, "tests", "data", "diff")

LINEARS = {"model.layers.0.self_attn.q_proj": (32, 64), "model.layers.0.self_attn.o_proj": (64, 32),
           "model.layers.0.mlp.down_proj": (64, 128)}
NORM = "model.layers.0.input_layernorm.weight"


def base_weights():
    g = torch.Generator().manual_seed(2026)
    weights = {}
    for name, shape in LINEARS.items():
        w = torch.randn(*shape, generator=g) * 0.05
        w[0, 3] = 0.4  # an outlier, so ranges differ between groups
        weights[name] = w.float()
    return weights


def config(quantization=None, key="quantization_config"):
    c = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "torch_dtype": "float16"}
    if quantization is not None:
        c[key] = quantization
    return c


def save(name, tensors, quant_config, dequantized, base, key="quantization_config", metadata=None):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    tensors = list(tensors) + [(NORM, np.ones(64, np.float16))]
    override = {k: v for k, v in tensors if isinstance(v, tuple)}
    listed = [(k, v[2] if isinstance(v, tuple) else v) for k, v in tensors]
    write_safetensors(os.path.join(folder, "model.safetensors"), listed, metadata or {"format": "pt"},
                      dtype_override={k: (v[0], v[1]) for k, v in override.items()})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config(quant_config, key), f, indent=2)
    golden = {}
    for module, values in dequantized.items():
        key_name = (module + ".weight").replace(".", "_")
        values = values.float().numpy()
        golden[key_name] = values
        ref = base[module].numpy().astype(np.float64)
        golden["mse_" + key_name] = np.array(np.mean((values.astype(np.float64) - ref) ** 2))
    os.makedirs(GOLDEN, exist_ok=True)
    np.savez(os.path.join(GOLDEN, name + ".npz"), **golden)


def rtn(w, bits, group, sym, g_idx=None):
    """Round-to-nearest codes along the input dimension: returns (q [N, K] ints in [0, 2^b),
    scales [groups, N], zeros [groups, N] ints) with groups of `group` inputs (g_idx picks each
    input's group when given)."""
    n, k = w.shape
    groups = (k + group - 1) // group
    if g_idx is None:
        g_idx = torch.arange(k) // group
    top = 2 ** bits - 1
    scales = torch.zeros(groups, n)
    zeros = torch.zeros(groups, n, dtype=torch.int64)
    for gi in range(groups):
        cols = w[:, g_idx == gi]
        lo, hi = cols.min(1).values.clamp(max=0), cols.max(1).values.clamp(min=0)
        if sym:
            s = torch.maximum(hi.abs(), lo.abs()) * 2 / top
            z = torch.full((n,), (top + 1) // 2, dtype=torch.int64)
        else:
            s = (hi - lo) / top
            z = torch.round(-lo / s).long().clamp(0, top)
        scales[gi], zeros[gi] = s.half().float(), z
    s_col, z_col = scales[g_idx].T, zeros[g_idx].T  # [N, K]
    q = torch.clamp(torch.round(w / s_col) + z_col, 0, top).long()
    return q, scales.half(), zeros


def stream_words(values, bits, count_words):
    """A little-endian bit stream of `bits`-bit values in uint32 words: value i at bits i·b."""
    acc, words = 0, []
    for i, v in enumerate(values):
        acc |= int(v) << (i * bits)
    for w in range(count_words):
        words.append((acc >> (32 * w)) & 0xFFFFFFFF)
    return words


def pack_columns_stream(q_kn, bits):
    """GPTQ's qweight: [K, N] codes packed down the columns, a bit stream along K per column
    (AutoGPTQ qlinear_cuda_old.QuantLinear.pack and GPTQModel PackableQuantLinear.pack: 32/b
    values per word for 2/4/8 bits, and for 3 bits 32 values in 3 words, values straddling)."""
    k, n = q_kn.shape
    rows = k * bits // 32
    out = np.zeros((rows, n), np.uint32)
    for c in range(n):
        out[:, c] = stream_words(q_kn[:, c].tolist(), bits, rows)
    return out.view(np.int32)


def pack_rows_stream(q, bits, words_per_row):
    out = np.zeros((q.shape[0], words_per_row), np.uint32)
    for r in range(q.shape[0]):
        out[r] = stream_words(q[r].tolist(), bits, words_per_row)
    return out.view(np.int32)


# --- GPTQ (AutoGPTQ / GPTQModel): qweight [K·b/32, N], qzeros [groups, N·b/32], scales [groups, N]
# fp16, g_idx [K]. Format v1 stores zero − 1; GPTQModel's v2 ("checkpoint_format": "gptq_v2")
# stores the zero itself. Dequantized as the torch kernel does: scales · (q − zero) in fp16.
def gptq(name, base, bits, group, sym, act_order=False, v2=False):
    tensors, deq = [], {}
    for module, w in base.items():
        n, k = w.shape
        g = k if group == -1 else group
        g_idx = None
        if act_order:  # desc_act: groups follow a permutation of the input columns
            perm = torch.randperm(k, generator=torch.Generator().manual_seed(7))
            g_idx = torch.empty(k, dtype=torch.int64)
            g_idx[perm] = torch.arange(k) // g
        q, scales, zeros = rtn(w, bits, g, sym, g_idx)
        if g_idx is None:
            g_idx = torch.arange(k) // g
        stored_zeros = zeros if v2 else zeros - 1
        stored_zeros = stored_zeros & (2 ** bits - 1)  # v1's zero − 1 wraps as the packer's & mask does
        qweight = pack_columns_stream(q.T.numpy(), bits)
        qzeros = pack_rows_stream(stored_zeros.numpy(), bits, n * bits // 32)
        tensors += [(module + ".qweight", qweight), (module + ".qzeros", qzeros),
                    (module + ".scales", scales.numpy()), (module + ".g_idx", g_idx.int().numpy())]
        z_used = (stored_zeros if v2 else stored_zeros + 1)
        zcol = z_used[g_idx].T
        deq[module] = (scales[g_idx].T * (q - zcol).half())
    qc = {"quant_method": "gptq", "bits": bits, "group_size": group, "desc_act": act_order, "sym": sym,
          "checkpoint_format": "gptq_v2" if v2 else "gptq"}
    save(name, tensors, qc, deq, base)


# --- AWQ (AutoAWQ awq/modules/linear/gemm.py, gemv.py): GEMM packs [K, N] codes along N eight to
# an int32 word in the order 0 2 4 6 1 3 5 7 (qweight [K, N/8], qzeros [groups, N/8], scales
# [groups, N]); GEMV packs [N, K] codes along K in order (qweight [N, K/8]), zeros [N, width]
# and scales [N, width·8] padded to calculate_zeros_width. Dequantized (q − zero) · scale in fp16.
AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def awq_pack_gemm(values):  # [R, C] -> [R, C/8]
    r, c = values.shape
    out = np.zeros((r, c // 8), np.uint32)
    for col in range(c // 8):
        for i in range(8):
            out[:, col] |= values[:, col * 8 + AWQ_ORDER[i]].astype(np.uint32) << np.uint32(4 * i)
    return out.view(np.int32)


def awq_zeros_width(k, group):
    multiplier = 1 if group >= 128 else {64: 2, 32: 4}[group]
    width = (k // group + 7) // 8
    return (width + multiplier - 1) // multiplier * multiplier


def awq(name, base, group, gemv=False):
    tensors, deq = [], {}
    for module, w in base.items():
        n, k = w.shape
        q, scales, zeros = rtn(w, 4, group, sym=False)
        g_idx = torch.arange(k) // group
        if gemv:
            width = awq_zeros_width(k, group)
            qweight = pack_rows_stream(q.numpy(), 4, k // 8)
            qzeros = pack_rows_stream(zeros.T.numpy(), 4, width)
            padded = np.zeros((n, width * 8), np.float16)
            padded[:, : scales.shape[0]] = scales.T.numpy()
            tensors += [(module + ".qweight", qweight), (module + ".qzeros", qzeros), (module + ".scales", padded)]
        else:
            tensors += [(module + ".qweight", awq_pack_gemm(q.T.numpy())), (module + ".qzeros", awq_pack_gemm(zeros.numpy())),
                        (module + ".scales", scales.numpy())]
        deq[module] = ((q - zeros[g_idx].T).half() * scales[g_idx].T)
    qc = {"quant_method": "awq", "bits": 4, "group_size": group, "zero_point": True, "version": "gemv" if gemv else "gemm"}
    save(name, tensors, qc, deq, base)


# --- MLX (mlx.core.quantize; mlx-lm's convert): weight uint32 [N, K·b/32], value j of a row at
# bits j·b of the row's little-endian bit stream; scales and biases [N, K/group]; config.json's
# "quantization": {"group_size", "bits"}. w = scale · q + bias, in float32 rounded to the scales'
# dtype.
def mlx(name, base, bits, group):
    tensors, deq = [], {}
    for module, w in base.items():
        n, k = w.shape
        q, scales, zeros = rtn(w, bits, group, sym=False)
        g_idx = torch.arange(k) // group
        s = scales.T.contiguous()  # [N, groups] fp16
        b = (-(zeros.T.float()) * s.float()).half()
        words = pack_rows_stream(q.numpy(), bits, k * bits // 32).view(np.uint32)
        tensors += [(module + ".weight", ("U32", words.tobytes(), words)), (module + ".scales", s.numpy()),
                    (module + ".biases", b.numpy())]
        deq[module] = (s.float()[:, g_idx] * q.float() + b.float()[:, g_idx]).half()
    save(name, tensors, {"group_size": group, "bits": bits}, deq, base, key="quantization")


# --- FP8 with block scales (DeepSeek-V3 and Qwen FP8 releases: weight F8_E4M3 [N, K],
# weight_scale_inv float32 [⌈N/bn⌉, ⌈K/bk⌉], quantization_config.weight_block_size [bn, bk];
# inference/kernel.py weight_dequant: y = x · s) and per-tensor weight_scale (FBGEMM FP8 and
# compressed-tensors float-quantized: y = x · s). Dequantized in float32.
def e4m3_table():
    """Every finite float8 e4m3fn value by byte (sign, 4 exponent bits with bias 7, 3 mantissa
    bits; exponent 15 with mantissa 7 is NaN), from the format's definition (OCP FP8 spec)."""
    values = np.full(256, np.nan, np.float64)
    for byte in range(256):
        sign, exponent, mantissa = byte >> 7, (byte >> 3) & 0xF, byte & 7
        if exponent == 15 and mantissa == 7:
            continue
        magnitude = mantissa * 2.0 ** -9 if exponent == 0 else (1 + mantissa / 8) * 2.0 ** (exponent - 7)
        values[byte] = -magnitude if sign else magnitude
    return values


E4M3 = e4m3_table()


def to_e4m3(x):
    """Bytes of the nearest e4m3fn values (the reader only decodes, so any rounding serves) and
    those values as a float32 tensor."""
    finite = np.where(np.isnan(E4M3), np.inf, E4M3)
    codes = np.abs(x.numpy().astype(np.float64)[..., None] - finite).argmin(-1).astype(np.uint8)
    return codes, torch.from_numpy(E4M3[codes].astype(np.float32))


def fp8(name, base, block=None, per_tensor=False, compressed=False):
    tensors, deq = [], {}
    for module, w in base.items():
        n, k = w.shape
        if per_tensor:
            s = (w.abs().max() / 448.0).reshape(1)
            codes, values = to_e4m3((w / s).clamp(-448, 448))
            tensors += [(module + ".weight", ("F8_E4M3", codes.tobytes(), codes)),
                        (module + ".weight_scale", s.numpy().astype(np.float32))]
            deq[module] = values * s
        else:
            bn, bk = block
            rows, cols = (n + bn - 1) // bn, (k + bk - 1) // bk
            s = torch.zeros(rows, cols)
            for i in range(rows):
                for j in range(cols):
                    s[i, j] = w[i * bn:(i + 1) * bn, j * bk:(j + 1) * bk].abs().max() / 448.0
            s_full = s.repeat_interleave(bn, 0)[:n].repeat_interleave(bk, 1)[:, :k]
            codes, values = to_e4m3((w / s_full).clamp(-448, 448))
            tensors += [(module + ".weight", ("F8_E4M3", codes.tobytes(), codes)),
                        (module + ".weight_scale_inv", s.numpy())]
            deq[module] = values * s_full
    if compressed:
        qc = {"quant_method": "compressed-tensors", "format": "float-quantized", "config_groups": {"group_0": {
            "targets": ["Linear"], "weights": {"num_bits": 8, "type": "float", "symmetric": True, "strategy": "tensor"}}}}
    else:
        qc = {"quant_method": "fp8", "activation_scheme": "dynamic"}
        if block:
            qc["weight_block_size"] = list(block)
    save(name, tensors, qc, deq, base)


# --- compressed-tensors int-quantized and naive-quantized (compressed_tensors/compressors/
# quantized_compressors/int_quantized.py and naive_quantized.py): weight int8 [N, K] codes,
# weight_scale [N, 1] (channel), optional weight_zero_point; w = (q − zero) · scale in the scale's
# dtype. pack-quantized is written by QuantLens's own exporter and read back in its tests.
def ct_int(name, base, fmt, sym=True):
    tensors, deq = [], {}
    for module, w in base.items():
        n, k = w.shape
        q, scales, zeros = rtn(w, 8, k, sym)
        codes = (q - 128).to(torch.int8) if sym else (q - 128).to(torch.int8)
        zp = (zeros - 128).to(torch.int8).T.contiguous()  # [N, 1]
        s = scales.T.contiguous()  # [N, 1] fp16
        tensors += [(module + ".weight", codes.numpy()), (module + ".weight_scale", s.numpy())]
        if not sym:
            tensors.append((module + ".weight_zero_point", zp.numpy()))
        deq[module] = ((codes.long() - zp.long()).half() * s)
    qc = {"quant_method": "compressed-tensors", "format": fmt, "config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {"num_bits": 8, "type": "int", "symmetric": sym, "strategy": "channel"}}}}
    save(name, tensors, qc, deq, base)


# --- bitsandbytes (bitsandbytes/nn/modules.py Params4bit, functional.py QuantState.as_dict with
# packed=True, quantize_4bit / dequantize_4bit): weight uint8 [N·K/2, 1], two codes a byte, the
# first in the high nibble; weight.absmax one per block of `blocksize` values of the flattened
# weight; weight.quant_map the 16 code values; weight.quant_state.bitsandbytes__<type> a uint8 JSON
# blob (quant_type, blocksize, dtype, shape, nested_blocksize, nested_offset). Nested (double)
# quantization stores absmax as uint8 codes into weight.nested_quant_map (256 values), scaled per
# nested block by weight.nested_absmax, plus nested_offset. w = quant_map[code] · absmax, in float32
# then cast to dtype. 8-bit (Int8Params, LLM.int8()): weight int8 [N, K] and SCB float32 [N]:
# w = q · SCB · (1/127) in float32 (int8_vectorwise_dequant).
NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]  # bitsandbytes functional.get_4bit_type("nf4")
FP4 = [0.0, 0.0052083333, 0.6666667, 1.0, 0.33333334, 0.5, 0.16666667, 0.25,
       -0.0, -0.0052083333, -0.6666667, -1.0, -0.33333334, -0.5, -0.16666667, -0.25]


def dynamic_map():
    """A signed 256-entry map (bitsandbytes' create_dynamic_map shape: sorted, in [−1, 1]); any
    sorted map serves, since the file carries it."""
    return np.sort(np.concatenate([np.linspace(-1, 1, 255), [0.0]])).astype(np.float32)


def bnb4(name, base, quant_type, nested, blocksize=64, nested_blocksize=256):
    qmap = torch.tensor(NF4 if quant_type == "nf4" else FP4, dtype=torch.float32)
    tensors, deq = [], {}
    for module, w in base.items():
        flat = w.half().float().flatten()
        blocks = flat.numel() // blocksize
        absmax = flat.reshape(blocks, blocksize).abs().max(1).values
        normed = flat.reshape(blocks, blocksize) / absmax[:, None]
        codes = (normed[..., None] - qmap).abs().argmin(-1).flatten().to(torch.uint8)
        packed = ((codes[0::2] << 4) | codes[1::2]).to(torch.uint8).reshape(-1, 1)
        state = {"quant_type": quant_type, "blocksize": blocksize, "dtype": "float16", "shape": list(w.shape)}
        part = [(module + ".weight", packed.numpy()), (module + ".weight.quant_map", qmap.numpy())]
        if nested:
            offset = float(absmax.mean())
            centred = absmax - offset
            nmap = torch.from_numpy(dynamic_map())
            nblocks = (blocks + nested_blocksize - 1) // nested_blocksize
            nabs = torch.stack([centred[i * nested_blocksize:(i + 1) * nested_blocksize].abs().max() for i in range(nblocks)])
            scaled = centred / nabs.repeat_interleave(nested_blocksize)[:blocks]
            acodes = (scaled[:, None] - nmap).abs().argmin(-1).to(torch.uint8)
            used_absmax = nmap[acodes.long()] * nabs.repeat_interleave(nested_blocksize)[:blocks] + np.float32(offset)
            state.update({"nested_blocksize": nested_blocksize, "nested_offset": offset, "nested_dtype": "float32"})
            part += [(module + ".weight.absmax", acodes.numpy()), (module + ".weight.nested_absmax", nabs.numpy()),
                     (module + ".weight.nested_quant_map", nmap.numpy())]
        else:
            used_absmax = absmax
            part.append((module + ".weight.absmax", absmax.numpy()))
        blob = np.frombuffer(json.dumps(state).encode(), np.uint8)
        part.append((module + ".weight.quant_state.bitsandbytes__" + quant_type, blob))
        tensors += part
        values = qmap[codes.long()].reshape(blocks, blocksize) * used_absmax[:, None]
        deq[module] = values.reshape(w.shape).half()
    qc = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": quant_type,
          "bnb_4bit_use_double_quant": nested, "bnb_4bit_compute_dtype": "float16"}
    save(name, tensors, qc, deq, base)


def bnb8(name, base):
    tensors, deq = [], {}
    for module, w in base.items():
        scb = w.abs().max(1).values
        q = torch.round(w * 127 / scb[:, None]).clamp(-127, 127).to(torch.int8)
        tensors += [(module + ".weight", q.numpy()), (module + ".SCB", scb.numpy())]
        deq[module] = q.float() * scb[:, None] * torch.tensor(7.874015718698502e-3, dtype=torch.float32)
    save(name, tensors, {"quant_method": "bitsandbytes", "load_in_8bit": True}, deq, base)


# --- diff's name pairing samples ------------------------------------------------------------
def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        a, b = entry["data_offsets"]
        out[name] = np.frombuffer(data[a:b], {"F32": np.float32, "F16": np.float16}[entry["dtype"]]).reshape(entry["shape"])
    return out


def llama_permute(w, heads):  # convert_hf_to_gguf.py LlamaModel.permute
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def diff_samples():
    os.makedirs(DIFF, exist_ok=True)
    hf = read_safetensors(os.path.join(HERE, "tiny-llama", "model.safetensors"))
    heads, kv_heads = 4, 2
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    block = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(2):
        for hf_part, ll in block.items():
            names[f"model.layers.{i}.{hf_part}.weight"] = f"blk.{i}.{ll}.weight"
    kvs = [("general.architecture", 8, gguf_string("llama")), ("general.alignment", 4, struct.pack("<I", 32)),
           ("llama.attention.head_count", 4, struct.pack("<I", heads)),
           ("llama.attention.head_count_kv", 4, struct.pack("<I", kv_heads)),
           ("llama.block_count", 4, struct.pack("<I", 2)), ("llama.embedding_length", 4, struct.pack("<I", 64))]
    tensors, golden = [], {}
    for hf_name, ll_name in names.items():
        w = hf[hf_name].astype(np.float32)
        if ll_name.endswith("attn_q.weight"):
            w = llama_permute(w, heads)
        elif ll_name.endswith("attn_k.weight"):
            w = llama_permute(w, kv_heads)
        if w.ndim == 1:
            tensors.append((ll_name, list(w.shape), 0, w.tobytes()))
            other = w
        else:
            tensors.append((ll_name, list(w.shape), 1, w.astype(np.float16).tobytes()))
            other = w.astype(np.float16).astype(np.float32)
        golden["mse_" + hf_name.replace(".", "_")] = np.array(np.mean((other.astype(np.float64) - w) ** 2))
    write_gguf(os.path.join(DIFF, "tiny-llama-f16.gguf"), kvs, tensors)
    np.savez(os.path.join(DIFF, "tiny-llama-f16.golden.npz"), **golden)

    # Phi-3 style: q, k, v fused into qkv_proj and gate, up into gate_up_proj, with noise.
    g = np.random.default_rng(11)
    fused, golden = [], {}
    for i in range(2):
        p = f"model.layers.{i}."
        for fused_name, parts in (("self_attn.qkv_proj", ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"]),
                                  ("mlp.gate_up_proj", ["mlp.gate_proj", "mlp.up_proj"])):
            base_rows = np.concatenate([hf[p + part + ".weight"] for part in parts]).astype(np.float32)
            other = (base_rows + g.normal(0, 1e-3, base_rows.shape)).astype(np.float32)
            fused.append((p + fused_name + ".weight", other))
            golden["mse_" + (p + fused_name).replace(".", "_")] = np.array(np.mean((other.astype(np.float64) - base_rows) ** 2))
        for part in ["self_attn.o_proj", "mlp.down_proj"]:
            w = hf[p + part + ".weight"].astype(np.float32)
            other = (w + g.normal(0, 1e-3, w.shape)).astype(np.float32)
            fused.append((p + part + ".weight", other))
            golden["mse_" + (p + part).replace(".", "_")] = np.array(np.mean((other.astype(np.float64) - w) ** 2))
    fused.append(("model.extra_head.weight", np.ones((4, 64), np.float32)))
    write_safetensors(os.path.join(DIFF, "tiny-llama-fused.safetensors"), fused, {"format": "pt"})
    np.savez(os.path.join(DIFF, "tiny-llama-fused.golden.npz"), **golden)


def fuzz_seeds():
    """tests/fuzz/fuzz_checkpoint's seeds: each checkpoint's config.json, a NUL, its safetensors."""
    seeds = os.path.join(ROOT, "tests", "fuzz", "corpus", "checkpoint")
    os.makedirs(seeds, exist_ok=True)
    for name in sorted(os.listdir(OUT)):
        if name == "base":
            continue
        with open(os.path.join(OUT, name, "config.json"), "rb") as f:
            config_bytes = f.read()
        with open(os.path.join(OUT, name, "model.safetensors"), "rb") as f:
            weights = f.read()
        with open(os.path.join(seeds, name), "wb") as f:
            f.write(config_bytes + b"\0" + weights)


def main():
    base = base_weights()
    folder = os.path.join(OUT, "base")
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, "model.safetensors"),
                      [(m + ".weight", w.numpy()) for m, w in base.items()] + [(NORM, np.ones(64, np.float32))],
                      {"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config(), f, indent=2)
    torch.manual_seed(0)
    gptq("gptq-4bit-act-order", base, 4, 32, sym=True, act_order=True)
    gptq("gptq-3bit", base, 3, 32, sym=False)
    gptq("gptq-2bit", base, 2, 16, sym=False)
    gptq("gptq-8bit-v2", base, 8, -1, sym=False, v2=True)
    awq("awq-gemm", base, 32)
    awq("awq-gemv", base, 32, gemv=True)
    mlx("mlx-4bit", base, 4, 32)
    mlx("mlx-3bit", base, 3, 32)
    fp8("fp8-block", base, block=(16, 32))
    fp8("fp8-tensor", base, per_tensor=True)
    fp8("ct-float-quantized", base, per_tensor=True, compressed=True)
    ct_int("ct-int-quantized", base, "int-quantized", sym=False)
    ct_int("ct-naive-quantized", base, "naive-quantized", sym=True)
    bnb4("bnb-nf4-nested", base, "nf4", nested=True, nested_blocksize=16)
    bnb4("bnb-fp4", base, "fp4", nested=False)
    bnb8("bnb-int8", base)
    diff_samples()
    fuzz_seeds()


if __name__ == "__main__":
    main()
