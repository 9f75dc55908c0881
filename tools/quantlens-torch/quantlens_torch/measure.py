"""Per-layer sensitivity of any nn.Module on calibration data, as QuantLens's engine defines it
(docs/sensitivity.md): the Hessian trace by Hutchinson (PyHessian's stopping rule) or exactly,
HAWQ-V2's Ω, the measured Δloss and KL and the Fisher–Taylor score with one layer alone
quantized, the proxy Tr(2XᵀX)/N with its predicted damage and the importance Σx²/N, and the
statistics of the layer's weights and inputs.

Calibration data go through in batches; every figure is a sum over batches (and, in `runner`,
over ranks) divided once at the end, so batching changes rounding only."""
import math

import torch

from .statistics import excess_kurtosis, max_to_mean, qsur_per_dimension, row_max_to_median
from .task import logits_of


class Options:
    def __init__(self, seed=0, max_samples=100, tolerance=1e-3, min_samples=2, exact=False, batch_size=0,
                 hessian=True, measured=True, proxy=True):
        self.seed, self.max_samples, self.tolerance, self.min_samples = seed, max_samples, tolerance, min_samples
        self.exact, self.batch_size = exact, batch_size
        self.hessian, self.measured, self.proxy = hessian, measured, proxy


class Calibration:
    """Inputs x [N, …] (token ids for a language model) and labels y [N] (None for one)."""

    def __init__(self, x, y, batch_size=0):
        self.x, self.y = x, y
        self.samples = x.shape[0]
        size = batch_size if batch_size > 0 else self.samples
        self.batches = [(x[i:i + size], None if y is None else y[i:i + size]) for i in range(0, self.samples, size)]


def reference(model, task, data):
    """The full-precision loss (mean over predictions), top-1 accuracy and prediction count."""
    total, count, correct = 0.0, 0, 0
    with torch.no_grad():
        for batch in data.batches:
            logits = logits_of(model(batch[0]))
            s, c = task.loss_sum(logits, batch)
            total, count, correct = total + float(s), count + c, correct + task.correct(logits, batch)
    return total / count, correct / count, count


def weight_figures(target):
    """The weight-only columns of a report row: excess kurtosis, max/mean and QSUR^(1/d)."""
    w = target.matrix().to(torch.float32)
    return {"excess_kurtosis": excess_kurtosis(w), "max_to_mean": max_to_mean(w),
            "qsur_per_dimension": qsur_per_dimension(w) if w.shape[0] >= 2 else float("nan")}


class _Capture:
    """Holds a module's input and output of the last forward pass while registered."""

    def __init__(self, module):
        self.input = self.output = None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self.input, self.output = inputs[0], output

    def remove(self):
        self.handle.remove()


def quantized(target, specs):
    """Q(W) of the layer's weight under each spec (float32, [out, in·kh·kw]) and its MSE."""
    original = target.matrix().to(torch.float32).to(torch.float64)
    dequantized = [spec.dequantize(original) for spec in specs]
    return dequantized, [float((q.to(torch.float64) - original).square().mean()) for q in dequantized]


def damage(model, task, data, target, dequantized, weight_mse, options, predictions, loss):
    """The `damage` object of one layer: proxy and activation statistics always; Δloss, KL and
    Fisher–Taylor per spec when measured, from `quantized`'s Q(W) and MSE. `predictions` and
    `loss` are the full-precision prediction count and mean loss."""
    n = data.samples
    original = target.matrix().clone()
    square_sums, rows = None, []
    loss_sums, kl_sums, fisher_sums = [0.0] * len(dequantized), [0.0] * len(dequantized), [0.0] * len(dequantized)
    kl_rows = 0
    for batch in data.batches:
        capture = _Capture(target.module)
        try:
            if options.measured:
                logits = logits_of(model(batch[0]))
                s, _ = task.loss_sum(logits, batch)
                # ∂L/∂y for the mean loss L over all predictions: the batch's sum over the total count
                dy = torch.autograd.grad(s / predictions, capture.output)[0].detach()
                logits = logits.detach()
            else:
                with torch.no_grad():
                    model(batch[0])
            y, x = capture.output.detach(), capture.input
        finally:
            capture.remove()
        batch_rows = target.rows(x)
        rows.append(batch_rows.to(torch.float32).cpu())
        # of the inputs as float32, as QuantLens keeps them (nn/layer_inputs)
        sums = (batch_rows.to(torch.float32).to(torch.float64) ** 2).sum(dim=0).cpu()
        square_sums = sums if square_sums is None else square_sums + sums
        if not options.measured:
            continue
        for k, q in enumerate(dequantized):
            capture = _Capture(target.module)
            try:
                target.assign(q)
                with torch.no_grad():
                    logits_q = logits_of(model(batch[0]))
                y_q = capture.output.detach()
            finally:
                capture.remove()
                target.assign(original)
            s, _ = task.loss_sum(logits_q, batch)
            loss_sums[k] += float(s)
            kl, count = task.kl_sum(logits, logits_q)
            kl_sums[k] += kl
            if k == 0:
                kl_rows += count
            fisher_sums[k] += float(((dy.to(torch.float64) * n) * (y_q - y).to(torch.float64)).square().sum())
    inputs = torch.cat(rows)
    out = {"proxy_trace": 2 * float(square_sums.sum()) / n,
           "activation_kurtosis": excess_kurtosis(inputs),
           "activation_qsur": qsur_per_dimension(inputs) if inputs.shape[0] >= 2 else float("nan"),
           "activation_mmr": row_max_to_median(inputs),
           "proxy_damage": [], "weight_mse": list(weight_mse), "delta_loss": [], "kl": [], "fisher": [],
           "importance": [float(v) / n for v in square_sums]}
    w = original.to(torch.float32).to(torch.float64)
    column_sums = square_sums.to(w.device)  # the sums were gathered on the CPU; the weights may be on a GPU
    for k, q in enumerate(dequantized):
        error = (q.to(torch.float64) - w).square()
        out["proxy_damage"].append(float((error * column_sums[None, :]).sum()) / n)
        if options.measured:
            out["delta_loss"].append(loss_sums[k] / predictions - loss)
            out["kl"].append(kl_sums[k] / kl_rows)
            out["fisher"].append(fisher_sums[k] / n)
    return out


def hessian_vector_product(model, task, data, parameters, vectors, predictions):
    """H·v for the mean loss over all predictions, H the Hessian over `parameters` only."""
    products = [torch.zeros_like(p) for p in parameters]
    for batch in data.batches:
        s, _ = task.loss_sum(logits_of(model(batch[0])), batch)
        gradients = torch.autograd.grad(s / predictions, parameters, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(gradients, vectors))
        for total, hv in zip(products, torch.autograd.grad(dot, parameters)):
            total += hv.detach()
    return products


def hutchinson(model, task, data, target, index, options, predictions):
    """E[vᵀHv] over Rademacher v on the layer's weight and bias, PyHessian's rule: at most
    max_samples; stop once the running mean moves by less than `tolerance` relative. The vectors
    come from a generator seeded by (seed, the layer's index), so a layer's estimate does not
    depend on which rank computes it."""
    parameters = target.parameters
    generator = torch.Generator().manual_seed((options.seed * 1000003 + index) % (1 << 63))
    samples, previous = [], 0.0
    for _ in range(options.max_samples):
        vectors = [(torch.randint(0, 2, p.shape, generator=generator) * 2 - 1).to(p.dtype).to(p.device)
                   for p in parameters]
        products = hessian_vector_product(model, task, data, parameters, vectors, predictions)
        samples.append(float(sum((v.to(torch.float64) * h.to(torch.float64)).sum() for v, h in zip(vectors, products))))
        mean = sum(samples) / len(samples)
        settled = len(samples) >= max(options.min_samples, 2) and abs(mean - previous) / (abs(previous) + 1e-6) < options.tolerance
        previous = mean
        if settled:
            break
    mean = sum(samples) / len(samples)
    error = 0.0
    if len(samples) > 1:
        error = math.sqrt(sum((s - mean) ** 2 for s in samples) / (len(samples) - 1) / len(samples))
    return mean, error, len(samples)


def exact_trace(model, task, data, target, predictions):
    """Σ of the diagonal of the layer's Hessian block: one product per parameter."""
    parameters = target.parameters
    trace = 0.0
    for p_index, p in enumerate(parameters):
        for j in range(p.numel()):
            vectors = [torch.zeros_like(q) for q in parameters]
            vectors[p_index].view(-1)[j] = 1
            trace += float(hessian_vector_product(model, task, data, parameters, vectors, predictions)[p_index].reshape(-1)[j])
    return trace


def hessian(model, task, data, target, index, options, predictions, weight_mse):
    """The `hessian` object of one layer; Ω per spec = Tr(H)/n · ‖Q(W) − W‖², n the block's size."""
    trace, error, count = hutchinson(model, task, data, target, index, options, predictions)
    size = sum(p.numel() for p in target.parameters)
    out = {"parameters": size, "trace": trace, "standard_error": error, "samples": count,
           "omega": [trace / size * mse * target.weights for mse in weight_mse]}
    if options.exact:
        out["exact"] = exact_trace(model, task, data, target, predictions)
    return out
