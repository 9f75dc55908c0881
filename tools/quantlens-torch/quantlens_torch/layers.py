"""Which modules of an nn.Module are the weighted layers QuantLens reports, and how each one's
weight looks to QuantLens: output channels first, [out, in·kh·kw] (docs/quant-spec.md,
Granularity), with its inputs as rows of the same columns (docs/sensitivity.md)."""
import torch
import torch.nn.functional as F


class Target:
    """One weighted layer: `name` is QuantLens's layer name (the module's qualified name, or the
    embedding's for a head tied to it)."""

    def __init__(self, name, module, kind):
        self.name, self.module, self.kind = name, module, kind
        self.op = type(module).__name__

    @property
    def parameters(self):
        return [p for p in (self.module.weight, getattr(self.module, "bias", None)) if p is not None]

    @property
    def weights(self):
        return self.module.weight.numel()

    def matrix(self):
        """The weight as QuantLens presents it: [out, in·kh·kw]."""
        w = self.module.weight.detach()
        if self.kind == "conv1d_hf":  # transformers' Conv1D keeps [in, out]
            return w.T
        return w.reshape(w.shape[0], -1)

    def assign(self, matrix):
        """Write a presented matrix back into the module's weight, in its layout and dtype."""
        w = self.module.weight
        value = matrix.T if self.kind == "conv1d_hf" else matrix.reshape(w.shape)
        with torch.no_grad():
            w.copy_(value.to(w.dtype))

    def rows(self, layer_input):
        """The layer's input as rows of the weight's columns (conv: im2col patches, (in, kh, kw))."""
        x = layer_input.detach()
        if self.kind == "conv2d":
            m = self.module
            if isinstance(m.padding, str):
                raise ValueError(f'layer "{self.name}": padding="{m.padding}" convolutions are not measured; '
                                 "give the padding as numbers")
            patches = F.unfold(x, m.kernel_size, dilation=m.dilation, padding=m.padding, stride=m.stride)
            return patches.transpose(1, 2).reshape(-1, patches.shape[1])
        return x.reshape(-1, x.shape[-1])


def find_targets(model):
    """Every nn.Linear, ungrouped nn.Conv2d and transformers Conv1D, in registration order, and the
    modules left out (grouped convolutions: QuantLens has no single input matrix for them)."""
    embeddings = {id(m.weight): name for name, m in model.named_modules() if isinstance(m, torch.nn.Embedding)}
    targets, skipped, seen = [], [], set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            kind = "linear"
        elif isinstance(module, torch.nn.Conv2d):
            if module.groups != 1:
                skipped.append(f"{name}: a grouped convolution (groups={module.groups})")
                continue
            kind = "conv2d"
        elif type(module).__name__ == "Conv1D" and getattr(module, "weight", None) is not None:
            kind = "conv1d_hf"
        else:
            continue
        if id(module.weight) in seen:
            continue
        seen.add(id(module.weight))
        targets.append(Target(embeddings.get(id(module.weight), name), module, kind))
    return targets, skipped
