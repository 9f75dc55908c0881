"""The per-layer statistics a QuantLens sensitivity report holds, computed as QuantLens computes
them (docs/metrics.md), in float64 from the float32 values QuantLens sees, and the model identity
that ties a report to the model it was made for (core/model/model_identity.hpp)."""
import math
import os

import torch

_HEADER_BYTES = 1 << 20
_FNV_OFFSET, _FNV_PRIME, _MASK = 1469598103934665603, 1099511628211, (1 << 64) - 1


def excess_kurtosis(values):
    """m4 / m2² − 3 with the biased moments (scipy.stats.kurtosis's default); NaN when constant."""
    x = values.detach().reshape(-1).to(torch.float32).to(torch.float64)
    centred = x - x.mean()
    m2 = (centred ** 2).mean()
    if not m2 > 0:
        return float("nan")
    return float((centred ** 4).mean() / (m2 * m2) - 3)


def max_to_mean(values):
    """max|w| / mean|w|, 0 when every value is 0."""
    x = values.detach().reshape(-1).to(torch.float32).to(torch.float64).abs()
    mean = float(x.mean()) if x.numel() else 0.0
    return float(x.max()) / mean if mean > 0 else 0.0


def row_max_to_median(matrix):
    """Mean over rows of max|x| / median|x| ("Beyond Outliers"' MMR); an even row's median is the
    mean of its two middle values. Rows whose median is 0 are left out; NaN when all are."""
    x = matrix.detach().to(torch.float32).to(torch.float64).abs()
    cols = x.shape[1]
    if cols == 0 or x.shape[0] == 0:
        return float("nan")
    ordered = torch.sort(x, dim=1).values
    median = ordered[:, cols // 2] if cols % 2 else (ordered[:, cols // 2 - 1] + ordered[:, cols // 2]) / 2
    largest = ordered[:, -1]
    kept = (median > 0) & torch.isfinite(largest)
    if not bool(kept.any()):
        return float("nan")
    return float((largest[kept] / median[kept]).mean())


def chi_squared_quantile(d, confidence):
    """The χ²_d quantile at `confidence`: Newton's method on the regularised incomplete gamma
    function from Wilson and Hilferty's approximation, bisection-guarded, to double precision."""
    dof = torch.tensor(d / 2.0, dtype=torch.float64)
    z = math.sqrt(2) * torch.erfinv(torch.tensor(2 * confidence - 1, dtype=torch.float64)).item()
    x = max(d * (1 - 2 / (9 * d) + z * math.sqrt(2 / (9 * d))) ** 3, 1e-8)
    low, high = 0.0, max(2 * x, d + 50 * math.sqrt(2 * d) + 100)
    for _ in range(200):
        p = torch.special.gammainc(dof, torch.tensor(x / 2, dtype=torch.float64)).item()
        if p < confidence:
            low = x
        else:
            high = x
        log_pdf = (d / 2 - 1) * math.log(x) - x / 2 - (d / 2) * math.log(2) - math.lgamma(d / 2)
        step = (p - confidence) / math.exp(log_pdf)
        candidate = x - step
        if not (low < candidate < high):
            candidate = (low + high) / 2
        if abs(candidate - x) <= 1e-15 * x:
            return candidate
        x = candidate
    return x


def qsur_per_dimension(matrix, confidence=0.99):
    """QSUR^(1/d) of OSTQuant (docs/metrics.md §5), rows as samples: the bounding box of the
    confidence ellipsoid, L = max_j(μ_j + r_j) − min_j(μ_j − r_j), r_j = √(c·Σ_jj), eigenvalues
    floored at 1e−12·λ_max. NaN for fewer than two rows."""
    x = matrix.detach().to(torch.float32).to(torch.float64)
    n, d = x.shape
    if n < 2 or d < 1:
        return float("nan")
    mean = x.mean(dim=0)
    centred = x - mean
    covariance = centred.T @ centred / (n - 1)
    eigenvalues = torch.linalg.eigvalsh(covariance)
    largest = float(eigenvalues.max())
    if not largest > 0:
        return float("nan")
    log_det = float(torch.log(torch.clamp(eigenvalues, min=1e-12 * largest)).sum())
    c = chi_squared_quantile(d, confidence)
    radius = torch.sqrt(c * torch.diagonal(covariance))
    side = float((mean + radius).max() - (mean - radius).min())
    if not side > 0:
        return float("nan")
    log_ratio = (0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1) + 0.5 * d * math.log(c) + 0.5 * log_det
                 - d * math.log(side))
    return math.exp(log_ratio / d)


def _fnv1a(data, value=_FNV_OFFSET):
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & _MASK
    return value


def model_identity(path):
    """QuantLens's content identity of a model file or folder, as 16 hex digits: FNV-1a over, for
    each regular file (a folder's in name order), its size and the FNV-1a of its first MiB."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, name) for name in os.listdir(path)
                       if os.path.isfile(os.path.join(path, name)))
    else:
        files = [path]
    content = b""
    for name in files:
        with open(name, "rb") as f:
            head = f.read(_HEADER_BYTES)
        content += f"{os.path.getsize(name)} {_fnv1a(head):016x}\n".encode()
    return f"{_fnv1a(content):016x}"
