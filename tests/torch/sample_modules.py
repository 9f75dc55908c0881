"""The bundled sample models as torch.nn.Modules, for the PyTorch runner's tests: the digits MLP
(samples/digits-mlp.h5) and the byte-level GPT-2 and LLaMA (samples/text-gpt2, text-llama), with
QuantLens's layer names as their module names. The transformers follow the Hugging Face modeling
code's definitions (GPT-2: learned positions, LayerNorm, Conv1D [in, out] weights, gelu_new, the
head tied to wte; LLaMA: RMSNorm, rotate_half rotary embeddings, grouped-query attention, SwiGLU)
and its module trees, so the names are transformers' own (transformers is not in Debian 12).
Used as `--module tests/torch/sample_modules.py:digits_mlp`."""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, "samples")


class DigitsMlp(torch.nn.Module):
    def __init__(self, kernels):
        super().__init__()
        (k0, b0), (k1, b1) = kernels
        self.dense = torch.nn.Linear(k0.shape[0], k0.shape[1])
        self.dense_1 = torch.nn.Linear(k1.shape[0], k1.shape[1])
        with torch.no_grad():  # Keras kernels are [in, out]; nn.Linear's weight is [out, in]
            for layer, k, b in ((self.dense, k0, b0), (self.dense_1, k1, b1)):
                layer.weight.copy_(torch.from_numpy(k.T.copy()))
                layer.bias.copy_(torch.from_numpy(b))

    def forward(self, x):
        return self.dense_1(torch.relu(self.dense(x)))


def digits_mlp():
    import h5py
    with h5py.File(os.path.join(SAMPLES, "digits-mlp.h5"), "r") as f:
        kernels = [(f[f"model_weights/{n}/{n}/kernel:0"][()], f[f"model_weights/{n}/{n}/bias:0"][()])
                   for n in ("dense", "dense_1")]
    return DigitsMlp(kernels)


def read_safetensors(path):
    """name → tensor of a safetensors file (8-byte header length, JSON header, raw data)."""
    with open(path, "rb") as f:
        length = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(length))
        data = f.read()
    dtypes = {"F32": np.float32, "F16": np.float16, "F64": np.float64}
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out


class RmsNorm(torch.nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight, self.eps = torch.nn.Parameter(torch.ones(size)), eps

    def forward(self, x):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, self.heads, self.kv_heads = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.head_dim = d // self.heads
        self.q_proj = torch.nn.Linear(d, self.heads * self.head_dim, bias=False)
        self.k_proj = torch.nn.Linear(d, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = torch.nn.Linear(d, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = torch.nn.Linear(self.heads * self.head_dim, d, bias=False)

    def forward(self, x, cos, sin):
        n, t, _ = x.shape
        q = self.q_proj(x).view(n, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(n, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(n, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        groups = self.heads // self.kv_heads
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), 1), float("-inf"))
        y = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(n, t, self.heads * self.head_dim)
        return self.o_proj(y)


class Mlp(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, h = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = torch.nn.Linear(d, h, bias=False)
        self.up_proj = torch.nn.Linear(d, h, bias=False)
        self.down_proj = torch.nn.Linear(h, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RmsNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RmsNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.mlp = Mlp(cfg)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = torch.nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = torch.nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"]))
        self.norm = RmsNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, ids):
        cfg = self.cfg
        head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
        inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
        freqs = torch.arange(ids.shape[1], dtype=torch.float64)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        dtype = self.embed_tokens.weight.dtype
        cos, sin = emb.cos().to(dtype).to(ids.device), emb.sin().to(dtype).to(ids.device)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.norm(x)


class LlamaForCausalLM(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.model = LlamaModel(cfg)
        self.lm_head = torch.nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, ids):
        return self.lm_head(self.model(ids))


def text_llama():
    folder = os.path.join(SAMPLES, "text-llama")
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    model = LlamaForCausalLM(cfg)
    model.load_state_dict(read_safetensors(os.path.join(folder, "model.safetensors")))
    return model


class Conv1D(torch.nn.Module):
    """transformers' Conv1D: a linear layer whose weight is stored [in, out]."""

    def __init__(self, inputs, outputs):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(inputs, outputs))
        self.bias = torch.nn.Parameter(torch.zeros(outputs))

    def forward(self, x):
        return x @ self.weight + self.bias


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


class Gpt2Attention(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.width, self.heads = cfg["n_embd"], cfg["n_head"]
        self.c_attn = Conv1D(self.width, 3 * self.width)
        self.c_proj = Conv1D(self.width, self.width)

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=-1)
        heads = lambda z: z.view(n, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = heads(q), heads(k), heads(v)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        scores = scores.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), 1), float("-inf"))
        return self.c_proj((torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(n, t, d))


class Gpt2Mlp(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = Conv1D(cfg["n_embd"], 4 * cfg["n_embd"])
        self.c_proj = Conv1D(4 * cfg["n_embd"], cfg["n_embd"])

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class Gpt2Block(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        eps = cfg["layer_norm_epsilon"]
        self.ln_1 = torch.nn.LayerNorm(cfg["n_embd"], eps=eps)
        self.attn = Gpt2Attention(cfg)
        self.ln_2 = torch.nn.LayerNorm(cfg["n_embd"], eps=eps)
        self.mlp = Gpt2Mlp(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Gpt2Model(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wte = torch.nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = torch.nn.Embedding(cfg["n_positions"], cfg["n_embd"])
        self.h = torch.nn.ModuleList(Gpt2Block(cfg) for _ in range(cfg["n_layer"]))
        self.ln_f = torch.nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))[None]
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


class Gpt2LMHeadModel(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.transformer = Gpt2Model(cfg)
        self.lm_head = torch.nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as tie_word_embeddings says

    def forward(self, ids):
        return self.lm_head(self.transformer(ids))


def text_gpt2():
    folder = os.path.join(SAMPLES, "text-gpt2")
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    model = Gpt2LMHeadModel(cfg)
    state = read_safetensors(os.path.join(folder, "model.safetensors"))
    state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict(state)
    return model
