#!/usr/bin/python3
"""PyTorch's side of bench_engine: the same computations on the digits CNN (samples/engine_samples.py's
PyTorch function of the Keras-layout weights), CPU, 2 threads. Prints "name seconds" lines
(best of the runs), which bench_engine reads."""
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

torch.set_num_threads(2)
with h5py.File(os.path.join(samples, "digits-cnn.h5"), "r") as f:
    weights = {}
    for name, _, names in engine_samples.CNN_LAYERS:
        for n in names:
            weights[f"{name}/{n}"] = f[f"model_weights/{name}/{name}/{n}:0"][()]
data = np.load(os.path.join(samples, "digits-calib.npz"))
trainable = [k for k in weights if "moving" not in k]


def best(runs, body):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return min(times)


for dtype, label in ((torch.float32, "f32"), (torch.float64, "f64")):
    p = {k: torch.tensor(v, dtype=dtype) for k, v in weights.items()}
    for k in trainable:
        p[k].requires_grad_(True)
    X = torch.tensor(data["x"], dtype=dtype)
    Y = torch.tensor(data["y"])

    def step():
        loss = F.cross_entropy(engine_samples.cnn_logits(p, X.reshape(-1, 8, 8, 1)), Y)
        torch.autograd.grad(loss, [p[k] for k in trainable])
    print(f"forward_backward_{label} {best(5, step):.6f}")
    if dtype == torch.float64:
        vs = [torch.randn(p[k].shape, dtype=dtype) for k in trainable]

        def hvp():
            loss = F.cross_entropy(engine_samples.cnn_logits(p, X.reshape(-1, 8, 8, 1)), Y)
            grads = torch.autograd.grad(loss, [p[k] for k in trainable], create_graph=True)
            torch.autograd.grad(grads, [p[k] for k in trainable], grad_outputs=vs)
        print(f"hvp_f64 {best(5, hvp):.6f}")
        print(f"hutchinson100_f64 {best(1, lambda: [hvp() for _ in range(100)]):.6f}")
