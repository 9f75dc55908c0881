#!/usr/bin/python3
"""PyTorch's side of bench_engine: the same computations, CPU, 2 threads, on the networks of
samples/engine_samples.py (digits CNN) and samples/lm_samples.py (byte-level GPT-2), written
there as PyTorch functions of the stored weights. Prints "name seconds" lines (best of the runs)."""
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

samples = sys.argv[1]
sys.path.insert(0, samples)
import engine_samples  # noqa: E402
import lm_samples  # noqa: E402

torch.set_num_threads(2)


def best(runs, body):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(prefix, weights, trainable, loss_of):
    for dtype, label in ((torch.float32, "f32"), (torch.float64, "f64")):
        p = {k: torch.tensor(v, dtype=dtype) for k, v in weights.items()}
        for k in trainable:
            p[k].requires_grad_(True)
        params = [p[k] for k in trainable]
        print(f"{prefix}_forward_backward_{label} {best(5, lambda: torch.autograd.grad(loss_of(p, dtype), params)):.6f}")
        if dtype == torch.float64:
            vs = [torch.randn(q.shape, dtype=dtype) for q in params]

            def hvp():
                grads = torch.autograd.grad(loss_of(p, dtype), params, create_graph=True)
                torch.autograd.grad(grads, params, grad_outputs=vs)
            print(f"{prefix}_hvp_f64 {best(5, hvp):.6f}")
            print(f"{prefix}_hutchinson100_f64 {best(1, lambda: [hvp() for _ in range(100)]):.6f}")


# the digits CNN on its 256 calibration samples
with h5py.File(os.path.join(samples, "digits-cnn.h5"), "r") as f:
    cnn = {f"{name}/{n}": f[f"model_weights/{name}/{name}/{n}:0"][()] for name, _, names in engine_samples.CNN_LAYERS for n in names}
data = np.load(os.path.join(samples, "digits-calib.npz"))
X, Y = data["x"], torch.tensor(data["y"])
measure("cnn", cnn, [k for k in cnn if "moving" not in k],
        lambda p, dtype: F.cross_entropy(engine_samples.cnn_logits(p, torch.tensor(X, dtype=dtype).reshape(-1, 8, 8, 1)), Y))

# the byte-level GPT-2 on its 16 calibration windows of 64 tokens
import struct  # noqa: E402
import json  # noqa: E402
with open(os.path.join(samples, "text-gpt2", "model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    blob = f.read()
gpt2 = {k: np.frombuffer(blob[v["data_offsets"][0]:v["data_offsets"][1]], dtype=np.float32).reshape(v["shape"]) for k, v in header.items() if k != "__metadata__"}
ids = torch.tensor(np.load(os.path.join(samples, "text-calib.npz"))["input_ids"])
measure("gpt2", gpt2, list(gpt2), lambda p, dtype: lm_samples.next_token_loss(lm_samples.gpt2_logits(p, ids), ids))
