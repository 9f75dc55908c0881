"""Tiny models of today's decoder families (Llama 3 rope scaling, Mistral, Qwen2, Qwen3,
Gemma 2, Gemma 3, Phi-3) in Hugging Face layout, with float64 PyTorch goldens of the engine:
logits, loss, gradients, one Hessian-vector product (double backward) and the exact Hessian
trace of a small block. Imported by generate_samples.py (--only families).

transformers is not in Debian 12, so each family's forward pass is written below in plain
PyTorch from the definitions in transformers' modeling files (modeling_llama, modeling_mistral,
modeling_qwen2, modeling_qwen3, modeling_gemma2, modeling_gemma3, modeling_phi3) and the rope
formulas of modeling_rope_utils.py. The weights are random (seeded) at a scale that makes
soft-capping, sliding windows and the rope types change the result; they are read back through
safetensors, so the goldens are functions of the stored float32 weights."""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from lm_samples import goldens, next_token_loss  # the same goldens as the byte-level GPT-2 and LLaMA

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "tests", "data", "golden", "families")
TOKENS, SAMPLES, VOCAB = 12, 2, 48

BASE = {"vocab_size": VOCAB, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False, "torch_dtype": "float32"}

FAMILIES = {
    # Llama 3.1's rope (all three frequency bands hit at head_dim 8), explicit head_dim, biases
    "llama3": dict(BASE, model_type="llama", head_dim=8, attention_bias=True, mlp_bias=True,
                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 64}),
    # YaRN in the newer rope_parameters dialect
    "llama-yarn": dict({k: v for k, v in BASE.items() if k != "rope_theta"}, model_type="llama", head_dim=8,
                       rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                                        "original_max_position_embeddings": 16}),
    "mistral": dict(BASE, model_type="mistral", sliding_window=4),
    # q/k/v biases, tied head, linear rope scaling
    "qwen2": dict(BASE, model_type="qwen2", tie_word_embeddings=True, use_sliding_window=False,
                  rope_scaling={"type": "linear", "factor": 2.0}),
    # per-head q/k RMSNorm, head_dim other than hidden/heads
    "qwen3": dict(BASE, model_type="qwen3", head_dim=8, attention_bias=False),
    "gemma2": dict(BASE, model_type="gemma2", head_dim=8, hidden_act="gelu_pytorch_tanh",
                   hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=6, sliding_window=4,
                   attn_logit_softcapping=2.0, final_logit_softcapping=3.0, tie_word_embeddings=True),
    "gemma3": dict(BASE, model_type="gemma3_text", head_dim=8, hidden_activation="gelu_pytorch_tanh",
                   query_pre_attn_scalar=8, sliding_window=4, sliding_window_pattern=2, rope_local_base_freq=100.0,
                   rope_scaling={"rope_type": "linear", "factor": 2.0}, tie_word_embeddings=True),
    "phi3": dict(BASE, model_type="phi3", sliding_window=6, original_max_position_embeddings=64),
}
ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "qwen3": "Qwen3ForCausalLM", "gemma2": "Gemma2ForCausalLM", "gemma3_text": "Gemma3ForCausalLM",
                 "phi3": "Phi3ForCausalLM"}
SMALL_BLOCK = {"qwen3": "model.layers.1.self_attn.k_norm", "gemma3": "model.layers.0.self_attn.q_norm"}


# --- rope (modeling_rope_utils.py), in float64 -----------------------------------------------
def rope(cfg, sliding):
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    if "rope_parameters" in cfg:
        r = dict(cfg["rope_parameters"])
    else:
        r = dict(cfg.get("rope_scaling") or {})
        r["rope_theta"] = cfg.get("rope_theta", 10000.0)
        if sliding and cfg["model_type"] == "gemma3_text":
            r = {"rope_type": "default", "rope_theta": cfg["rope_local_base_freq"]}
    kind = r.get("rope_type", r.get("type", "default"))
    base = r["rope_theta"]
    inv = 1.0 / base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    attention = 1.0
    if kind == "linear":
        inv = inv / r["factor"]
    elif kind == "llama3":
        factor, low, high, old = r["factor"], r["low_freq_factor"], r["high_freq_factor"], r["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > old / low, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old / high) & ~(wavelen > old / low)
        inv = torch.where(medium, smoothed, scaled)
    elif kind == "yarn":
        factor, original = r["factor"], r.get("original_max_position_embeddings", cfg["max_position_embeddings"])
        attention = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0
        dim_of = lambda rot: hd * math.log(original / (rot * 2 * math.pi)) / (2 * math.log(base))
        lo, hi = max(math.floor(dim_of(r.get("beta_fast") or 32)), 0), min(math.ceil(dim_of(r.get("beta_slow") or 1)), hd - 1)
        if lo == hi:
            hi += 0.001
        ramp = ((torch.arange(hd // 2, dtype=torch.float64) - lo) / (hi - lo)).clamp(0, 1)
        extrapolation = 1 - ramp
        inv = inv / factor * (1 - extrapolation) + inv * extrapolation
    freqs = torch.arange(TOKENS, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * attention, emb.sin() * attention


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rms_norm(x, w, eps, gemma):
    y = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps)
    return y * (1.0 + w) if gemma else y * w


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_is_sliding(cfg, i):
    t = cfg["model_type"]
    if t in ("mistral", "phi3"):
        return cfg.get("sliding_window") is not None
    if t in ("qwen2", "qwen3"):
        return cfg.get("use_sliding_window", False) and i >= cfg.get("max_window_layers", 28)
    if t == "gemma2":
        return (i + 1) % 2 != 0
    if t == "gemma3_text":
        return (i + 1) % cfg.get("sliding_window_pattern", 6) != 0
    return False


def attend(q, k, v, scaling, softcap, window):
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    scores = q @ k.transpose(-1, -2) * scaling
    if softcap:
        scores = torch.tanh(scores / softcap) * softcap
    i = torch.arange(TOKENS)[:, None]
    j = torch.arange(TOKENS)[None, :]
    allowed = j <= i
    if window:
        allowed = allowed & (j > i - window)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, -1) @ v


def logits_of(p, ids, cfg):
    t = cfg["model_type"]
    gemma, fused = t.startswith("gemma"), t == "phi3"
    N, T = ids.shape
    d, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps, I = cfg.get("head_dim") or d // H, cfg["rms_norm_eps"], cfg["intermediate_size"]
    act = gelu_tanh if gemma else F.silu
    bias = t == "qwen2" or cfg.get("attention_bias", False)
    h = p["model.embed_tokens.weight"][ids]
    if gemma:
        h = h * torch.tensor(d ** 0.5, dtype=h.dtype)
    norm = lambda x, name: rms_norm(x, p[name], eps, gemma)
    linear = lambda x, name, with_bias=False: x @ p[name + ".weight"].T + (p[name + ".bias"] if with_bias else 0)
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        sliding = layer_is_sliding(cfg, i)
        cos, sin = rope(cfg, sliding)
        a = norm(h, pre + "input_layernorm.weight")
        if fused:
            q, k, v = linear(a, pre + "self_attn.qkv_proj").split([H * hd, Hkv * hd, Hkv * hd], dim=-1)
        else:
            q = linear(a, pre + "self_attn.q_proj", bias)
            k = linear(a, pre + "self_attn.k_proj", bias)
            v = linear(a, pre + "self_attn.v_proj", bias)
        q, k, v = (x.view(N, T, -1, hd) for x in (q, k, v))
        if t in ("qwen3", "gemma3_text"):
            q, k = norm(q, pre + "self_attn.q_norm.weight"), norm(k, pre + "self_attn.k_norm.weight")
        q, k, v = (x.transpose(1, 2) for x in (q, k, v))
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        scaling = cfg["query_pre_attn_scalar"] ** -0.5 if gemma else hd ** -0.5
        y = attend(q, k, v, scaling, cfg.get("attn_logit_softcapping"), cfg.get("sliding_window") if sliding else None)
        y = linear(y.transpose(1, 2).reshape(N, T, H * hd), pre + "self_attn.o_proj", bias and t != "qwen2")
        if gemma:
            y = norm(y, pre + "post_attention_layernorm.weight")
        h = h + y
        m = norm(h, pre + ("pre_feedforward_layernorm.weight" if gemma else "post_attention_layernorm.weight"))
        mlp_bias = cfg.get("mlp_bias", False)
        if fused:
            gate, up = linear(m, pre + "mlp.gate_up_proj").chunk(2, dim=-1)
        else:
            gate, up = linear(m, pre + "mlp.gate_proj", mlp_bias), linear(m, pre + "mlp.up_proj", mlp_bias)
        y = linear(act(gate) * up, pre + "mlp.down_proj", mlp_bias)
        if gemma:
            y = norm(y, pre + "post_feedforward_layernorm.weight")
        h = h + y
    h = norm(h, "model.norm.weight")
    head = p["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else p["lm_head.weight"]
    logits = h @ head.T
    if cfg.get("final_logit_softcapping"):
        logits = torch.tanh(logits / cfg["final_logit_softcapping"]) * cfg["final_logit_softcapping"]
    return logits


def initial(cfg, g):
    t = cfg["model_type"]
    gemma = t.startswith("gemma")
    d, V, I, H, Hkv = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or d // H
    weight = lambda rows, cols: torch.randn(rows, cols, generator=g) * (1.5 / math.sqrt(cols))
    gamma = lambda n: torch.randn(n, generator=g) * 0.2 + (0.0 if gemma else 1.0)
    vector = lambda n: torch.randn(n, generator=g) * 0.1
    p = {"model.embed_tokens.weight": torch.randn(V, d, generator=g) * (0.5 if gemma else 1.0)}
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        p[pre + "input_layernorm.weight"] = gamma(d)
        p[pre + "post_attention_layernorm.weight"] = gamma(d)
        if t == "phi3":
            p[pre + "self_attn.qkv_proj.weight"] = weight((H + 2 * Hkv) * hd, d)
            p[pre + "mlp.gate_up_proj.weight"] = weight(2 * I, d)
        else:
            for name, rows in (("q", H * hd), ("k", Hkv * hd), ("v", Hkv * hd)):
                p[pre + f"self_attn.{name}_proj.weight"] = weight(rows, d)
                if t == "qwen2" or cfg.get("attention_bias"):
                    p[pre + f"self_attn.{name}_proj.bias"] = vector(rows)
            p[pre + "mlp.gate_proj.weight"], p[pre + "mlp.up_proj.weight"] = weight(I, d), weight(I, d)
            if cfg.get("mlp_bias"):
                p[pre + "mlp.gate_proj.bias"], p[pre + "mlp.up_proj.bias"] = vector(I), vector(I)
        p[pre + "self_attn.o_proj.weight"] = weight(d, H * hd)
        if cfg.get("attention_bias"):
            p[pre + "self_attn.o_proj.bias"] = vector(d)
        p[pre + "mlp.down_proj.weight"] = weight(d, I)
        if cfg.get("mlp_bias"):
            p[pre + "mlp.down_proj.bias"] = vector(d)
        if t in ("qwen3", "gemma3_text"):
            p[pre + "self_attn.q_norm.weight"], p[pre + "self_attn.k_norm.weight"] = gamma(hd), gamma(hd)
        if gemma:
            p[pre + "pre_feedforward_layernorm.weight"] = gamma(d)
            p[pre + "post_feedforward_layernorm.weight"] = gamma(d)
    p["model.norm.weight"] = gamma(d)
    if not cfg["tie_word_embeddings"]:
        p["lm_head.weight"] = weight(V, d)
    return {k: v.float() for k, v in p.items()}


def main(write_safetensors):
    results = {}
    for seed, (name, cfg) in enumerate(FAMILIES.items(), start=70):
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        g = torch.Generator().manual_seed(seed)
        p = initial(cfg, g)
        ids = torch.randint(0, VOCAB, (SAMPLES, TOKENS), generator=g)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(dict(cfg, architectures=[ARCHITECTURES[cfg["model_type"]]]), f, indent=2)
        write_safetensors(os.path.join(folder, "model.safetensors"), [(k, v.numpy()) for k, v in p.items()], {"format": "pt"})
        np.savez(os.path.join(folder, "calib.npz"), input_ids=ids.numpy())
        block = SMALL_BLOCK.get(name, "model.norm")
        goldens(os.path.join(folder, "engine.npz"), cfg, logits_of, p, ids, seed, [(block, [block + ".weight"])])
        with torch.no_grad():
            results[name] = next_token_loss(logits_of({k: v.double() for k, v in p.items()}, ids, cfg), ids).item()
    return results
