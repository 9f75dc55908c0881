"""quantlens-torch: a QuantLens sensitivity report from PyTorch, on CPUs, GPUs or a cluster.

  python3 -m quantlens_torch --module net.py:build --task classifier --calib data.npz \
      --model-path model.h5 --spec int4:channel:sym --out report.json
  torchrun --nproc-per-node 8 -m quantlens_torch --hf /models/Llama-3-70B --calib ids.npz ...

Then: quantlens-cli sensitivity MODEL --import report.json (or File ▸ Import Sensitivity Report)."""
import argparse
import importlib.util
import os
import sys

import numpy as np
import torch
import torch.distributed as dist

from . import measure, runner
from .layers import find_targets
from .specs import SpecError, parse_specs
from .task import Task

WINDOW = 64
DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}  # a .txt file is cut into windows of this many bytes, as QuantLens cuts it


class InputError(Exception):
    pass


def load_calibration(path, task, samples):
    """x and y from an .npz (x/inputs and y/labels; input_ids/ids/tokens for a language model)
    or a .txt file (bytes in windows of 64, for byte-level language models)."""
    if path.endswith(".txt"):
        if task.kind != "causal-lm":
            raise InputError(f"{path}: a text file is calibration data for a language model (--task causal-lm)")
        data = np.fromfile(path, dtype=np.uint8)
        count = data.size // WINDOW
        if count == 0:
            raise InputError(f"{path}: {data.size} bytes: fewer than one window of {WINDOW}")
        x, y = torch.from_numpy(data[:count * WINDOW].astype(np.int64).reshape(count, WINDOW)), None
    else:
        try:
            archive = np.load(path)
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: not a NumPy .npz file ({error})") from error

        def first(names):
            return next((n for n in names if n in archive.files), None)
        if task.kind == "causal-lm":
            name = first(("input_ids", "ids", "tokens"))
            if name is None:
                raise InputError(f"{path}: no array named input_ids, ids or tokens")
            ids = archive[name]
            if ids.ndim != 2 or ids.dtype.kind not in "iu":
                raise InputError(f"{path}: {name}: expected integers [samples, tokens], got {ids.dtype} {list(ids.shape)}")
            x, y = torch.from_numpy(ids.astype(np.int64)), None
        else:
            xname, yname = first(("x", "inputs")), first(("y", "labels"))
            if xname is None or yname is None:
                raise InputError(f"{path}: needs inputs x (or inputs) and integer labels y (or labels)")
            xs, ys = archive[xname], archive[yname]
            if xs.dtype.kind != "f" or ys.dtype.kind not in "iu" or ys.ndim != 1 or xs.shape[0] != ys.shape[0]:
                raise InputError(f"{path}: {xname} must be floating point [samples, …] and {yname} integers [samples]; "
                                 f"got {xs.dtype} {list(xs.shape)} and {ys.dtype} {list(ys.shape)}")
            x, y = torch.from_numpy(np.ascontiguousarray(xs)), torch.from_numpy(ys.astype(np.int64))
    if samples:
        x, y = x[:samples], None if y is None else y[:samples]
    if x.shape[0] == 0:
        raise InputError(f"{path}: no samples")
    return x, y


def load_module(argument):
    """--module FILE.py:FUNCTION: FUNCTION() returns the nn.Module (with its weights loaded)."""
    path, _, function = argument.rpartition(":")
    if not path or not function:
        raise InputError(f'--module "{argument}": expected FILE.py:FUNCTION')
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    spec = importlib.util.spec_from_file_location("quantlens_user_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, function):
        raise InputError(f"{path}: defines no function {function}")
    return getattr(module, function)()


def load_hf(folder, dtype, device_map):
    """A Hugging Face causal LM; with a device map (accelerate's "auto") one rank spreads the model
    over every GPU it sees, for models larger than one GPU."""
    try:
        import transformers
    except ImportError as error:
        raise InputError("--hf needs the transformers package where the runner runs "
                         "(pip install transformers), or give the model with --module") from error
    if not os.path.isdir(folder):
        raise InputError(f"{folder}: not a folder (--hf takes a Hugging Face model folder)")
    extra = {"device_map": device_map} if device_map else {}
    return transformers.AutoModelForCausalLM.from_pretrained(folder, torch_dtype=dtype, **extra)


def arguments(argv):
    p = argparse.ArgumentParser(prog="quantlens-torch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--module", help="FILE.py:FUNCTION returning the torch.nn.Module")
    source.add_argument("--hf", help="a Hugging Face model folder (needs transformers)")
    p.add_argument("--task", choices=("classifier", "causal-lm"), help="default: causal-lm with --hf, else classifier")
    p.add_argument("--calib", required=True, help=".npz (x, y or input_ids) or .txt (bytes)")
    p.add_argument("--model-path", help="the model file or folder QuantLens opens (names the report's model "
                                        "and identity; default: the --hf folder)")
    p.add_argument("--spec", action="append", default=[], help="quantizer spec (repeatable)")
    p.add_argument("--metrics", default="hessian,measured,proxy", help="any of hessian,measured,proxy")
    p.add_argument("--samples", type=int, default=0, help="the first N calibration samples (default all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Hutchinson vectors")
    p.add_argument("--hutchinson-samples", type=int, default=100, help="at most this many (PyHessian's maxIter)")
    p.add_argument("--exact", action="store_true", help="also the exact trace (one product per parameter)")
    p.add_argument("--batch-size", type=int, default=0, help="samples per forward pass (default all)")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="float32", help="the dtype the model runs in")
    p.add_argument("--float64", action="store_true", help="same as --dtype float64 (as QuantLens's --float64)")
    p.add_argument("--device-map", help='with --hf: a transformers device map ("auto" spreads the model over '
                                        "this rank's GPUs; needs accelerate)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N (auto: this rank's GPU when there is one)")
    p.add_argument("--out", required=True, help="the report (JSON)")
    p.add_argument("--force", action="store_true", help="replace an earlier report at --out")
    return p.parse_args(argv)


def main(argv=None):
    args = arguments(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = args.device
    if device == "auto":
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    try:
        metrics = {m.strip() for m in args.metrics.split(",") if m.strip()}
        unknown = metrics - {"hessian", "measured", "proxy"}
        if unknown or not metrics:
            raise InputError(f'--metrics "{args.metrics}": expected any of hessian, measured, proxy')
        specs = parse_specs(args.spec)
        runner.check_replaceable(args.out, args.force)
        task = Task(args.task or ("causal-lm" if args.hf else "classifier"))
        dtype = torch.float64 if args.float64 else DTYPES[args.dtype]
        if args.device_map and not args.hf:
            raise InputError("--device-map applies to --hf models")
        model = load_hf(args.hf, dtype, args.device_map) if args.hf else load_module(args.module)
        if not isinstance(model, torch.nn.Module):
            raise InputError(f"--module {args.module}: returned {type(model).__name__}, not a torch.nn.Module")
        if args.device_map:
            device = str(next(model.parameters()).device)  # inputs go where the embedding is
        else:
            model = model.to(device=device, dtype=dtype)
        model = model.eval()
        for parameter in model.parameters():  # Fisher–Taylor and the Hessians differentiate through them
            parameter.requires_grad_(True)
        x, y = load_calibration(args.calib, task, args.samples)
        if x.is_floating_point():
            x = x.to(dtype)
        data = measure.Calibration(x.to(device), None if y is None else y.to(device), args.batch_size)
    except (InputError, SpecError, OSError, FileExistsError) as error:
        print(f"quantlens-torch: {error}", file=sys.stderr)
        return 2
    options = measure.Options(seed=args.seed, max_samples=args.hutchinson_samples, exact=args.exact,
                              batch_size=args.batch_size, hessian="hessian" in metrics,
                              measured="measured" in metrics, proxy="proxy" in metrics)
    if world > 1:
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    try:
        if rank == 0:
            layers = len(find_targets(model)[0])
            batches = len(data.batches)
            print(f"quantlens-torch: {layers} layers over {world} rank(s), {data.samples} samples in {batches} batch(es), "
                  f"{len(specs)} spec(s); per layer: {batches * (1 + len(specs))} forward passes"
                  + (f" and up to {args.hutchinson_samples} Hessian-vector products (each a double backward "
                     f"over every batch)" if options.hessian else "")
                  + (", plus one product per parameter for --exact" if args.exact else ""), file=sys.stderr)
        model_path = args.model_path or args.hf or ""
        document = runner.report(model, task, data, specs, options, model_path, os.path.abspath(args.calib)
                                 if args.calib else "", rank, world)
        if rank == 0:
            runner.write_report(document, args.out, args.force)
            print(f"quantlens-torch: wrote {args.out}", file=sys.stderr)
    except KeyboardInterrupt:
        print("quantlens-torch: cancelled; nothing written", file=sys.stderr)
        return 130
    except (ValueError, FileExistsError) as error:
        print(f"quantlens-torch: {error}", file=sys.stderr)
        return 2
    finally:
        if world > 1:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
