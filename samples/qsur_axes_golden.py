#!/usr/bin/python3
"""Golden values for QSUR in the OSTQuant paper's form (docs/metrics.md §5), from NumPy and SciPy
alone: the covariance's eigenvectors (numpy.linalg.eigh), the principal-axis endpoints
mu +- sqrt(c * lambda_i) * q_i, the cube spanning them, and the chi-square quantile c
(scipy.stats.chi2). Beside it, the bounding-box form QuantLens reports as `qsur`.

    /usr/bin/python3 samples/qsur_axes_golden.py   # writes tests/data/golden/qsur_principal_axes.json
"""
import json
import math
import os

import numpy as np
from scipy import special, stats

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "tests", "data", "golden", "qsur_principal_axes.json")


def log_ratio(d, c, log_det, side):
    return 0.5 * d * math.log(math.pi) - special.gammaln(0.5 * d + 1) + 0.5 * d * math.log(c) \
        + 0.5 * log_det - d * math.log(side)


def both_forms(x, confidence=0.99):
    x = x.astype(np.float64)
    n, d = x.shape
    mu = x.mean(axis=0)
    cov = np.cov(x, rowvar=False, ddof=1)
    lam, q = np.linalg.eigh(cov)
    lam = np.maximum(lam, 1e-12 * lam.max())
    c = stats.chi2.ppf(confidence, d)
    log_det = float(np.sum(np.log(lam)))
    reach = np.max(np.sqrt(c * lam)[None, :] * np.abs(q), axis=1)  # q[:, i] is axis i
    axes = log_ratio(d, c, log_det, np.max(mu + reach) - np.min(mu - reach))
    r = np.sqrt(c * np.diag(cov))
    box = log_ratio(d, c, log_det, np.max(mu + r) - np.min(mu - r))
    return axes / math.log(10), box / math.log(10)


def main():
    rng = np.random.default_rng(47)
    cases = []
    # correlated, shifted rows: the eigenvectors are far from the coordinate axes
    mix = rng.standard_normal((6, 6))
    x = (rng.standard_normal((24, 6)) @ mix + np.array([0.5, -1, 0, 2, 0, 0.25])).astype(np.float32)
    axes, box = both_forms(x)
    cases.append({"rows": 24, "cols": 6, "values": [float(v) for v in x.reshape(-1)],
                  "log10_qsur_principal_axes": axes, "log10_qsur": box})
    # fewer samples than dimensions: floored eigenvalues
    x = rng.standard_normal((5, 8)).astype(np.float32)
    axes, box = both_forms(x)
    cases.append({"rows": 5, "cols": 8, "values": [float(v) for v in x.reshape(-1)],
                  "log10_qsur_principal_axes": axes, "log10_qsur": box})
    with open(OUT, "w") as f:
        json.dump({"generator": "samples/qsur_axes_golden.py", "confidence": 0.99, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
