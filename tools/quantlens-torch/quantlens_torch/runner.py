"""A QuantLens sensitivity report (schema quantlens.sensitivity/2, docs/sensitivity.md) from an
nn.Module, on one process or across the ranks of torch.distributed.

Across ranks the weighted layers are dealt out round-robin: each rank holds the model and the
calibration data and measures its own layers; rank 0 gathers the rows and writes the report.
Every figure of a layer depends only on the layer, the data and the seed, never on the rank, so
two ranks give the report one rank gives, figure for figure."""
import json
import math
import os
import sys
import time

import torch.distributed as dist

from . import measure
from .layers import find_targets
from .statistics import model_identity

SCHEMA = "quantlens.sensitivity/2"


def _number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return _number(value)


def _log(message):
    print(message, file=sys.stderr, flush=True)


def layer_rows(model, task, data, specs, options, rank=0, world=1, log=_log):
    """The report rows of this rank's layers (index % world == rank), keyed by network index, and
    the full-precision loss and accuracy."""
    targets, skipped = find_targets(model)
    loss, accuracy, predictions = measure.reference(model, task, data)
    mine = [i for i in range(len(targets)) if i % world == rank]
    rows, started = {}, time.monotonic()
    for done, i in enumerate(mine):
        target = targets[i]
        log(f"[rank {rank}] layer {done + 1}/{len(mine)} {target.name} ({time.monotonic() - started:.0f} s)")
        row = {"layer": target.name, "op": target.op, "weights": target.weights}
        row.update(measure.weight_figures(target))
        dequantized, weight_mse = measure.quantized(target, specs)  # once, for Ω and the damage
        if options.hessian:
            row["hessian"] = measure.hessian(model, task, data, target, i, options, predictions, weight_mse)
        if options.measured or options.proxy:
            row["damage"] = measure.damage(model, task, data, target, dequantized, weight_mse, options,
                                           predictions, loss)
        rows[i] = row
    return rows, loss, accuracy, [t.name for t in targets], skipped


def report(model, task, data, specs, options, model_path, calibration_path, rank=0, world=1, log=_log):
    """The whole report on rank 0 (None on the others)."""
    rows, loss, accuracy, names, skipped = layer_rows(model, task, data, specs, options, rank, world, log)
    if world > 1:
        gathered = [None] * world
        dist.all_gather_object(gathered, rows)
        rows = {}
        for part in gathered:
            rows.update(part)
    if rank != 0:
        return None
    notes = ["computed by the PyTorch runner (tools/quantlens-torch): no LRP contributions"]
    notes += [f"not measured: {s}" for s in skipped]
    out = {"schema": SCHEMA, "model": model_path, "calibration": calibration_path, "samples": data.samples,
           "loss": loss, "accuracy": accuracy, "specs": [s.text() for s in specs],
           "model_identity": model_identity(model_path) if model_path and os.path.exists(model_path) else "",
           "layers": [rows[i] for i in range(len(names))], "notes": notes, "agreement": []}
    if not out["model_identity"]:
        del out["model_identity"]
    return _clean(out)


def check_replaceable(path, force=False):
    """Refuses a `path` that exists unless `force` is given and it is itself a sensitivity report:
    nothing else is ever overwritten. Checked before any work and again before writing."""
    if not os.path.exists(path):
        return
    if not force:
        raise FileExistsError(f"{path}: exists; give --force to replace an earlier report")
    try:
        with open(path, encoding="utf-8") as f:
            earlier = json.load(f)
    except (OSError, ValueError):
        earlier = None
    if not isinstance(earlier, dict) or earlier.get("schema") != SCHEMA:
        raise FileExistsError(f"{path}: exists and is not a QuantLens sensitivity report; not replaced")


def write_report(document, path, force=False):
    """Atomically (temp file + rename), never over anything but an earlier report."""
    check_replaceable(path, force)
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=1, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
