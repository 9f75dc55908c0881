"""The quantizer specs the runner measures with, in QuantLens's spec text (docs/quant-spec.md).

The runner needs Q(W) for ‖Q(W) − W‖², HAWQ's Ω, the proxy and the measured Δloss, KL and
Fisher–Taylor. It computes Q(W) itself, in float32 as QuantLens does, for the integer grids and
the casts; every other spec is refused by name before any work starts. For those, the report can
still carry the Hessian traces and activation statistics (run without --spec), and QuantLens
computes the weight-only figures on the desktop.

Integers (QuantLens's quant/group_scale.hpp, bit-exact with PyTorch's observers):
- sym: levels ±(2^(b−1) − 1), s = max(absmax / (2^(b−1) − 1), 2^−23);
- sym:full: levels −2^(b−1) … 2^(b−1) − 1, s = max(absmax / (2^(b−1) − 0.5), 2^−23);
- asym: range [min(x, 0), max(x, 0)], s = max(hi/qmax − lo/qmax, 2^−23), z = clamp(round(−lo/s), 0, qmax);
- a group of zeros has scale 0 and dequantizes to zeros; q = round_half_even(x · (1/s)), clamped.
Groups are contiguous runs of the row-major weight [out, in·kh·kw]; a row whose length the group
does not divide ends in a shorter group with its own scale."""
import torch

_INT_BITS = range(2, 9)
SUPPORTED = "int2 … int8 (tensor, channel or g<N>; sym, sym:full or asym; clip=minmax; scale=f32; round=rtn), f32, f16, bf16"


class SpecError(ValueError):
    pass


class Spec:
    def __init__(self, text):
        self.source = text
        parts = text.strip().lower().split(":")
        head, options = parts[0], parts[1:]
        self.cast = None
        self.bits = 0
        self.granularity, self.group = "channel", 0
        self.symmetric, self.full = True, False
        if head in ("f32", "f16", "bf16"):
            if options:
                raise SpecError(f'spec "{text}": {head} takes no options')
            self.cast = head
            return
        if not (head.startswith("int") and head[3:].isdigit() and int(head[3:]) in _INT_BITS):
            raise SpecError(f'spec "{text}": "{head}": the PyTorch runner quantizes {SUPPORTED}; '
                            "QuantLens itself computes the other formats' weight-only figures")
        self.bits = int(head[3:])
        for option in options:
            if option in ("tensor", "channel"):
                self.granularity = option
            elif option.startswith("g") and option[1:].isdigit() and int(option[1:]) > 0:
                self.granularity, self.group = "group", int(option[1:])
            elif option == "sym":
                self.symmetric = True
            elif option == "asym":
                self.symmetric = False
            elif option == "full":
                self.full = True
            elif option in ("clip=minmax", "scale=f32", "round=rtn"):
                pass
            else:
                raise SpecError(f'spec "{text}": "{option}": not an option the PyTorch runner implements; it quantizes {SUPPORTED}')
        if self.full and not self.symmetric:
            raise SpecError(f'spec "{text}": "full": full range applies to symmetric integers only')

    def text(self):
        """QuantLens's canonical text of this spec (what its reports hold and its parser reads)."""
        if self.cast:
            return self.cast
        granularity = f"g{self.group}" if self.granularity == "group" else self.granularity
        return f"int{self.bits}:{granularity}:{'sym' if self.symmetric else 'asym'}" + (":full" if self.full else "")

    def dequantize(self, matrix):
        """Q(W) of a weight [out, in·kh·kw], as float32 (the input is taken as float32)."""
        w = matrix.detach().to(torch.float32)
        if self.cast == "f32":
            return w.clone()
        if self.cast == "f16":
            return w.to(torch.float16).to(torch.float32)
        if self.cast == "bf16":
            return w.to(torch.bfloat16).to(torch.float32)
        rows, cols = w.shape
        if self.granularity == "tensor":
            return self._groups(w.reshape(1, -1)).reshape(rows, cols)
        size = cols if self.granularity == "channel" else self.group
        whole = cols // size * size
        out = torch.empty_like(w)
        if whole:
            out[:, :whole] = self._groups(w[:, :whole].reshape(-1, size)).reshape(rows, whole)
        if whole < cols:
            out[:, whole:] = self._groups(w[:, whole:].contiguous())
        return out

    def _groups(self, g):
        """Each row of g is one group."""
        floor = torch.tensor(2.0 ** -23, dtype=torch.float32)
        if self.symmetric:
            half = float(1 << (self.bits - 1))
            qmin, qmax = (-half, half - 1) if self.full else (-(half - 1), half - 1)
            grid_max = torch.tensor(half - 0.5 if self.full else half - 1, dtype=torch.float32)
            absmax = g.abs().amax(dim=1, keepdim=True)
            scale = torch.where(absmax > 0, torch.maximum(absmax / grid_max, floor), torch.zeros_like(absmax))
            inverse = torch.where(scale > 0, 1.0 / scale, torch.zeros_like(scale))  # 1/0 is discarded
            level = torch.round(torch.clamp(g * inverse, qmin, qmax))
            return level * scale
        qmax = torch.tensor(float((1 << self.bits) - 1), dtype=torch.float32)
        low = torch.clamp(g.amin(dim=1, keepdim=True), max=0.0)
        high = torch.clamp(g.amax(dim=1, keepdim=True), min=0.0)
        scale = torch.where(high > low, torch.maximum(high / qmax - low / qmax, floor), torch.ones_like(high))
        zero = torch.clamp(torch.round(-low / scale), 0.0, float(qmax))
        level = torch.round(torch.maximum(torch.minimum(g * (1.0 / scale), qmax - zero), -zero))
        return level * scale


def parse_specs(texts):
    return [Spec(t) for t in texts]
