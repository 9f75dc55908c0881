"""The objective QuantLens's engine measures (docs/sensitivity.md): the mean cross-entropy of a
classifier over its samples, or a language model's next-token cross-entropy over every position
but the last. Every quantity is kept as a sum with its count so batches, and ranks, add up."""
import torch
import torch.nn.functional as F


def logits_of(output):
    return output.logits if hasattr(output, "logits") else output


class Task:
    def __init__(self, kind):
        if kind not in ("classifier", "causal-lm"):
            raise ValueError(f'task "{kind}": expected classifier or causal-lm')
        self.kind = kind

    def targets(self, batch):
        x, y = batch
        return y if self.kind == "classifier" else x[:, 1:]

    def scored(self, logits):
        """The logits that have a target: [rows, classes]."""
        if self.kind == "classifier":
            return logits
        return logits[:, :-1].reshape(-1, logits.shape[-1])

    def loss_sum(self, logits, batch):
        """Σ of the per-prediction cross-entropy, and how many predictions it holds."""
        scored = self.scored(logits)
        return F.cross_entropy(scored, self.targets(batch).reshape(-1), reduction="sum"), scored.shape[0]

    def correct(self, logits, batch):
        return int((self.scored(logits).argmax(dim=-1) == self.targets(batch).reshape(-1)).sum())

    @staticmethod
    def kl_sum(reference, quantized):
        """Σ over every output row (each position of a language model) of KL(p ‖ p_Q), in float64,
        and the number of rows."""
        width = reference.shape[-1]
        p = torch.softmax(reference.detach().reshape(-1, width).to(torch.float64), dim=-1)
        q = torch.softmax(quantized.detach().reshape(-1, width).to(torch.float64), dim=-1)
        terms = torch.where(p > 0, p * (torch.log(p) - torch.log(torch.clamp(q, min=1e-300))), torch.zeros_like(p))
        return float(terms.sum()), p.shape[0]
