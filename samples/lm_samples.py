"""Byte-level language models for QuantLens's engine: a tiny GPT-2 and a tiny LLaMA trained on
scikit-learn's dataset descriptions (BSD-3-Clause text), saved in Hugging Face layout, with
token-id calibration data and float64 PyTorch goldens. Imported by generate_samples.py.

The forward passes below are written from the Hugging Face modeling code's definitions
(GPT2Model: learned positions, LayerNorm, Conv1D [in, out] weights, gelu_new, tied head;
LlamaModel: RMSNorm, rotate_half rotary embeddings with inv_freq = θ^(−2i/d), grouped-query
attention, SwiGLU), in plain PyTorch, since the transformers package is not in Debian 12."""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import datasets

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOLDEN = os.path.join(ROOT, "tests", "data", "golden")
WINDOW = 64

GPT2 = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 256, "n_positions": WINDOW, "n_embd": 32, "n_layer": 2,
        "n_head": 4, "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True}
LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 256, "hidden_size": 32, "intermediate_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": WINDOW, "rms_norm_eps": 1e-5,
         "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False, "torch_dtype": "float32"}


def corpus():
    """scikit-learn's dataset descriptions (BSD-3-Clause), as bytes: the last 2 KiB are held out for calibration."""
    text = "\n\n".join(loader().DESCR for loader in (datasets.load_digits, datasets.load_iris, datasets.load_wine,
                                                      datasets.load_breast_cancer, datasets.load_diabetes, datasets.load_linnerud))
    data = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8).astype(np.int64)
    return data[:-2048], data[-2048:]


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def attention(q, k, v):
    """q [N, H, T, hd], k/v [N, Hkv, T, hd]: causal softmax attention, kv heads repeated."""
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    T = q.shape[2]
    scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(scores, -1) @ v


def gpt2_logits(p, ids, cfg=GPT2):
    N, T = ids.shape
    d, H = cfg["n_embd"], cfg["n_head"]
    eps = cfg["layer_norm_epsilon"]
    h = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][:T]
    for i in range(cfg["n_layer"]):
        w = lambda name: p[f"transformer.h.{i}.{name}"]
        a = layer_norm(h, w("ln_1.weight"), w("ln_1.bias"), eps)
        q, k, v = (a @ w("attn.c_attn.weight") + w("attn.c_attn.bias")).split(d, dim=-1)
        heads = lambda t: t.view(N, T, H, d // H).transpose(1, 2)
        y = attention(heads(q), heads(k), heads(v)).transpose(1, 2).reshape(N, T, d)
        h = h + y @ w("attn.c_proj.weight") + w("attn.c_proj.bias")
        m = layer_norm(h, w("ln_2.weight"), w("ln_2.bias"), eps)
        h = h + gelu_new(m @ w("mlp.c_fc.weight") + w("mlp.c_fc.bias")) @ w("mlp.c_proj.weight") + w("mlp.c_proj.bias")
    h = layer_norm(h, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return h @ p["transformer.wte.weight"].T


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def llama_logits(p, ids, cfg=LLAMA):
    N, T = ids.shape
    d, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps = d // H, cfg["rms_norm_eps"]
    dtype = p["model.embed_tokens.weight"].dtype
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
    h = p["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        w = lambda name: p[f"model.layers.{i}.{name}"]
        a = rms_norm(h, w("input_layernorm.weight"), eps)
        q = (a @ w("self_attn.q_proj.weight").T).view(N, T, H, hd).transpose(1, 2)
        k = (a @ w("self_attn.k_proj.weight").T).view(N, T, Hkv, hd).transpose(1, 2)
        v = (a @ w("self_attn.v_proj.weight").T).view(N, T, Hkv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        y = attention(q, k, v).transpose(1, 2).reshape(N, T, H * hd)
        h = h + y @ w("self_attn.o_proj.weight").T
        m = rms_norm(h, w("post_attention_layernorm.weight"), eps)
        h = h + (F.silu(m @ w("mlp.gate_proj.weight").T) * (m @ w("mlp.up_proj.weight").T)) @ w("mlp.down_proj.weight").T
    return rms_norm(h, p["model.norm.weight"], eps) @ p["lm_head.weight"].T


def next_token_loss(logits, ids):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def initial(cfg, g):
    normal = lambda *shape: (torch.randn(*shape, generator=g) * 0.02)
    if cfg["model_type"] == "gpt2":
        d, V = cfg["n_embd"], cfg["vocab_size"]
        p = {"transformer.wte.weight": normal(V, d), "transformer.wpe.weight": normal(cfg["n_positions"], d)}
        for i in range(cfg["n_layer"]):
            pre = f"transformer.h.{i}."
            p.update({pre + "ln_1.weight": torch.ones(d), pre + "ln_1.bias": torch.zeros(d),
                      pre + "attn.c_attn.weight": normal(d, 3 * d), pre + "attn.c_attn.bias": torch.zeros(3 * d),
                      pre + "attn.c_proj.weight": normal(d, d), pre + "attn.c_proj.bias": torch.zeros(d),
                      pre + "ln_2.weight": torch.ones(d), pre + "ln_2.bias": torch.zeros(d),
                      pre + "mlp.c_fc.weight": normal(d, 4 * d), pre + "mlp.c_fc.bias": torch.zeros(4 * d),
                      pre + "mlp.c_proj.weight": normal(4 * d, d), pre + "mlp.c_proj.bias": torch.zeros(d)})
        p.update({"transformer.ln_f.weight": torch.ones(d), "transformer.ln_f.bias": torch.zeros(d)})
        return p
    d, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    hd = d // cfg["num_attention_heads"]
    p = {"model.embed_tokens.weight": normal(V, d)}
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        p.update({pre + "input_layernorm.weight": torch.ones(d), pre + "self_attn.q_proj.weight": normal(cfg["num_attention_heads"] * hd, d),
                  pre + "self_attn.k_proj.weight": normal(cfg["num_key_value_heads"] * hd, d),
                  pre + "self_attn.v_proj.weight": normal(cfg["num_key_value_heads"] * hd, d),
                  pre + "self_attn.o_proj.weight": normal(d, cfg["num_attention_heads"] * hd), pre + "post_attention_layernorm.weight": torch.ones(d),
                  pre + "mlp.gate_proj.weight": normal(I, d), pre + "mlp.up_proj.weight": normal(I, d), pre + "mlp.down_proj.weight": normal(d, I)})
    p.update({"model.norm.weight": torch.ones(d), "lm_head.weight": normal(V, d)})
    return p


def train(cfg, logits_fn, data, seed):
    g = torch.Generator().manual_seed(seed)
    p = {k: v.requires_grad_(True) for k, v in initial(cfg, g).items()}
    opt = torch.optim.Adam(p.values(), lr=3e-3)
    for _ in range(400):
        starts = torch.randint(0, len(data) - WINDOW, (16,), generator=g)
        ids = torch.stack([torch.from_numpy(data[s:s + WINDOW]) for s in starts.tolist()])
        opt.zero_grad()
        loss = next_token_loss(logits_fn(p, ids), ids)
        loss.backward()
        opt.step()
    return {k: v.detach().float() for k, v in p.items()}, loss.item()


def goldens(path, cfg, logits_fn, p, ids, seed, trace_blocks):
    """float64: logits, loss, gradient per tensor, one HVP (double backward), exact traces of small blocks."""
    q = {k: v.double().requires_grad_(True) for k, v in p.items()}
    logits = logits_fn(q, ids, cfg)
    loss = next_token_loss(logits, ids)
    names = list(q)
    grads = torch.autograd.grad(loss, [q[k] for k in names], create_graph=True)
    g = torch.Generator().manual_seed(seed)
    vs = [torch.randint(0, 2, q[k].shape, generator=g).double() * 2 - 1 for k in names]  # Rademacher, as Hutchinson draws
    hvps = torch.autograd.grad(grads, [q[k] for k in names], grad_outputs=vs)
    key = lambda kind, name: kind + "__" + name.replace("/", ".").replace(":", "_")
    out = {"logits": logits.detach().reshape(ids.shape[0], -1).numpy(), "loss": np.array([loss.item()])}
    for k, gr, v, hv in zip(names, grads, vs, hvps):
        out[key("gradient", k)], out[key("v", k)], out[key("hvp", k)] = gr.detach().numpy(), v.numpy(), hv.numpy()
    for layer, members in trace_blocks:
        base = {k: t.detach() for k, t in q.items()}
        sizes = [base[k].numel() for k in members]

        def block_loss(theta):
            moved, offset = dict(base), 0
            for k, n in zip(members, sizes):
                moved[k] = theta[offset:offset + n].reshape(base[k].shape)
                offset += n
            return next_token_loss(logits_fn(moved, ids, cfg), ids)
        flat = torch.cat([base[k].flatten() for k in members])
        out["trace__" + layer] = np.array([torch.trace(torch.autograd.functional.hessian(block_loss, flat)).item()])
    np.savez_compressed(path, **out)


def save(folder, cfg, p, write_safetensors):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(folder, "model.safetensors"), [(k, v.numpy()) for k, v in p.items()], {"format": "pt"})


def main(write_safetensors):
    train_data, held_out = corpus()
    with open(os.path.join(HERE, "text-calib.txt"), "wb") as f:
        f.write(held_out.astype(np.uint8).tobytes())
    ids = torch.from_numpy(held_out[:16 * WINDOW].reshape(16, WINDOW).copy())
    np.savez(os.path.join(HERE, "text-calib.npz"), input_ids=ids.numpy())
    results = {}
    for name, cfg, fn, seed, blocks in (("text-gpt2", GPT2, gpt2_logits, 21, [("transformer.ln_f", ["transformer.ln_f.weight", "transformer.ln_f.bias"])]),
                                        ("text-llama", LLAMA, llama_logits, 22, [("model.norm", ["model.norm.weight"])])):
        p, loss = train(cfg, lambda q, x, fn=fn, cfg=cfg: fn(q, x, cfg), train_data, seed)
        save(os.path.join(HERE, name), cfg, p, write_safetensors)
        goldens(os.path.join(GOLDEN, name.replace("-", "_") + "_engine.npz"), cfg, fn, p, ids[:2, :32], seed, blocks)
        with torch.no_grad():
            results[name] = (loss, next_token_loss(fn(p, ids, cfg), ids).item())
    return results
