"""The PyTorch runner (tools/quantlens-torch) against QuantLens's own engine, on the bundled
digits MLP and byte-level GPT-2 (Conv1D weights, tied head) and LLaMA: the same weights, the same
calibration samples, the figures of both reports compared at the goldens' tolerances (docs/sensitivity.md, "How it is checked"):
- float64 losses, Δloss, KL, Fisher–Taylor, proxy, importance, weight MSE and the weight and
  activation statistics (QSUR included: an eigensolver here, a Cholesky factor there): 1e-9
  relative (measured on 2026-12-03: at most 8e-11, Δloss's, and 1e-13 or less for the rest);
- exact Hessian traces: 1e-6 relative (QuantLens's products are differences of exact gradients);
- Hutchinson estimates, from other random vectors: within four combined standard errors.
Then: two ranks (gloo) give the report one rank gives, and QuantLens imports the runner's report
figure for figure and refuses it for another model.

Usage: test_runner.py QUANTLENS_CLI"""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUNNER = os.path.join(ROOT, "tools", "quantlens-torch")
SAMPLES = os.path.join(ROOT, "samples")
CLI = None
WORK = None

CASES = {
    "mlp": {"module": "digits_mlp", "task": "classifier", "model": "digits-mlp.h5", "calib": "digits-calib.npz",
            "samples": 64, "exact": True},
    "gpt2": {"module": "text_gpt2", "task": "causal-lm", "model": "text-gpt2", "calib": "text-calib.npz",
             "samples": 4, "exact": False},
    "llama": {"module": "text_llama", "task": "causal-lm", "model": "text-llama", "calib": "text-calib.npz",
              "samples": 4, "exact": False},
}
SPECS = ["int4:channel:sym", "int8:g16:asym", "int3:g32:sym:full"]


def number(value):
    return float(value)  # the strings "nan", "inf" and "-inf" included


def run(command, env=None, check=True):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def runner_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = RUNNER + os.pathsep + env.get("PYTHONPATH", "")
    return env


def runner_args(case, out, extra=()):
    c = CASES[case]
    args = ["--module", f"{os.path.join(HERE, 'sample_modules.py')}:{c['module']}", "--task", c["task"],
            "--calib", os.path.join(SAMPLES, c["calib"]), "--samples", str(c["samples"]), "--float64",
            "--model-path", os.path.join(SAMPLES, c["model"]), "--out", out]
    for spec in SPECS:
        args += ["--spec", spec]
    if c["exact"]:
        args.append("--exact")
    return args + list(extra)


_reports = {}


def engine_report(case):
    """QuantLens's own report (float64, no cache)."""
    if ("engine", case) not in _reports:
        c = CASES[case]
        command = [CLI, "sensitivity", os.path.join(SAMPLES, c["model"]), "--calib", os.path.join(SAMPLES, c["calib"]),
                   "--samples", str(c["samples"]), "--metrics", "hessian,measured,proxy", "--float64", "--no-cache", "--json"]
        for spec in SPECS:
            command += ["--spec", spec]
        if c["exact"]:
            command.append("--exact")
        _reports[("engine", case)] = json.loads(run(command).stdout)
    return _reports[("engine", case)]


def runner_report(case, ranks=1):
    key = ("runner", case, ranks)
    if key not in _reports:
        out = os.path.join(WORK, f"{case}-{ranks}.json")
        if ranks == 1:
            command = [sys.executable, "-m", "quantlens_torch"] + runner_args(case, out)
        else:
            # torchrun; "--redirects 1 --tee 1" because Debian 12's torch 1.13 under Python 3.11 cannot
            # parse the default, 0 (a zero IntFlag), and stops before starting a worker
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
                       "--redirects", "1", "--tee", "1", "-m", "quantlens_torch"] + runner_args(case, out)
        run(command, env=runner_env())
        with open(out, encoding="utf-8") as f:
            _reports[key] = json.load(f)
        _reports[key]["path"] = out
    return _reports[key]


class Agreement(unittest.TestCase):
    def close(self, ours, theirs, tolerance, what, floor=1e-12):
        a, b = number(ours), number(theirs)
        if math.isnan(a) or math.isnan(b):
            self.assertTrue(math.isnan(a) and math.isnan(b), f"{what}: {a} vs {b}")
            return
        self.assertLessEqual(abs(a - b), tolerance * max(abs(a), abs(b)) + floor, f"{what}: runner {a} vs QuantLens {b}")

    def compare(self, case):
        runner, engine = runner_report(case), engine_report(case)
        self.assertEqual(runner["specs"], engine["specs"])
        self.assertEqual(runner["model_identity"], engine["model_identity"])
        self.assertEqual(runner["samples"], engine["samples"])
        self.close(runner["loss"], engine["loss"], 1e-9, "loss")
        self.close(runner["accuracy"], engine["accuracy"], 1e-12, "accuracy")
        theirs = {row["layer"]: row for row in engine["layers"]}
        self.assertEqual([r["layer"] for r in runner["layers"]], [r["layer"] for r in engine["layers"]])
        for row in runner["layers"]:
            name, other = row["layer"], theirs[row["layer"]]
            self.assertEqual(row["weights"], other["weights"], name)
            for field in ("excess_kurtosis", "max_to_mean"):
                self.close(row[field], other[field], 1e-9, f"{name} {field}")
            self.close(row["qsur_per_dimension"], other["qsur_per_dimension"], 1e-9, f"{name} qsur")
            d, e = row["damage"], other["damage"]
            for field in ("proxy_trace", "activation_kurtosis", "activation_mmr"):
                self.close(d[field], e[field], 1e-9, f"{name} {field}")
            self.close(d["activation_qsur"], e["activation_qsur"], 1e-9, f"{name} activation_qsur")
            for field in ("proxy_damage", "weight_mse", "delta_loss", "kl", "fisher", "importance"):
                self.assertEqual(len(d[field]), len(e[field]), f"{name} {field}")
                for k, (a, b) in enumerate(zip(d[field], e[field])):
                    # Δloss is a difference of two losses near 1: its error is the losses' (1e-9 of 1)
                    floor = 1e-12 if field != "delta_loss" else 1e-9 * number(engine["loss"])
                    self.close(a, b, 1e-9, f"{name} {field}[{k}]", floor)
            h, g = row["hessian"], other["hessian"]
            self.assertEqual(h["parameters"], g["parameters"], name)
            if "exact" in g:
                self.close(h["exact"], g["exact"], 1e-6, f"{name} exact trace")
            spread = 4 * math.hypot(number(h["standard_error"]), number(g["standard_error"]))
            self.assertLessEqual(abs(number(h["trace"]) - number(g["trace"])), spread + 1e-9,
                                 f"{name} Hutchinson: runner {h['trace']} ± {h['standard_error']}, "
                                 f"QuantLens {g['trace']} ± {g['standard_error']}")
            for k, omega in enumerate(h["omega"]):  # Ω = Tr/n·‖ΔW‖² on each side's own trace
                expected = number(h["trace"]) / h["parameters"] * number(d["weight_mse"][k]) * row["weights"]
                self.close(omega, expected, 1e-12, f"{name} omega[{k}]")

    def test_the_runner_agrees_with_the_engine_on_the_digits_mlp(self):
        self.compare("mlp")

    def test_the_runner_agrees_with_the_engine_on_the_byte_level_gpt2(self):
        self.compare("gpt2")  # Conv1D [in, out] weights, and the head tied to wte

    def test_the_runner_agrees_with_the_engine_on_the_byte_level_llama(self):
        self.compare("llama")

    def test_two_gloo_ranks_give_the_report_one_rank_gives(self):
        for case in ("mlp", "llama"):
            one, two = dict(runner_report(case)), dict(runner_report(case, ranks=2))
            one.pop("path"), two.pop("path")
            self.assertEqual(one, two, case)

    def test_batches_change_rounding_only(self):
        whole = runner_report("mlp")
        out = os.path.join(WORK, "mlp-batched.json")
        run([sys.executable, "-m", "quantlens_torch"] + runner_args("mlp", out, ["--batch-size", "24"]), env=runner_env())
        with open(out, encoding="utf-8") as f:
            batched = json.load(f)
        self.close(batched["loss"], whole["loss"], 1e-12, "loss")
        for a, b in zip(batched["layers"], whole["layers"]):
            for field in ("delta_loss", "kl", "fisher", "importance", "proxy_damage"):
                for k, (x, y) in enumerate(zip(a["damage"][field], b["damage"][field])):
                    self.close(x, y, 1e-9, f"{a['layer']} {field}[{k}]", 1e-15)
            for field in ("activation_kurtosis", "activation_qsur", "activation_mmr"):
                self.close(a["damage"][field], b["damage"][field], 1e-12, f"{a['layer']} {field}")
            self.close(a["hessian"]["exact"], b["hessian"]["exact"], 1e-9, f"{a['layer']} exact trace")
            self.assertEqual(a["hessian"]["samples"], b["hessian"]["samples"], a["layer"])
            self.close(a["hessian"]["trace"], b["hessian"]["trace"], 1e-9, f"{a['layer']} Hutchinson")

    def test_quantlens_imports_the_runners_report_figure_for_figure(self):
        for case in ("mlp", "llama"):
            report = runner_report(case)
            model = os.path.join(SAMPLES, CASES[case]["model"])
            imported = json.loads(run([CLI, "sensitivity", model, "--import", report["path"], "--json"]).stdout)
            for ours, theirs in zip(report["layers"], imported["layers"]):
                self.assertEqual(ours, theirs, ours["layer"])
            if case == "llama":  # enough layers to rank (the MLP has two)
                self.assertTrue(imported["agreement"], "the import ranks the predictors again")
                table = run([CLI, "sensitivity", model, "--import", report["path"]]).stdout
                self.assertIn("best:", table)

    def test_quantlens_refuses_the_runners_report_for_another_model(self):
        report = runner_report("mlp")
        result = run([CLI, "sensitivity", os.path.join(SAMPLES, "digits-cnn.h5"), "--import", report["path"]], check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("model_identity", result.stderr)

    def test_the_runner_refuses_specs_it_cannot_quantize_and_never_overwrites(self):
        out = os.path.join(WORK, "refused.json")
        result = run([sys.executable, "-m", "quantlens_torch"] + runner_args("mlp", out, ["--spec", "q4_k"]),
                     env=runner_env(), check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn('"q4_k"', result.stderr)
        self.assertFalse(os.path.exists(out))
        other = os.path.join(WORK, "not-a-report.txt")
        with open(other, "w") as f:
            f.write("keep me")
        result = run([sys.executable, "-m", "quantlens_torch"] + runner_args("mlp", other, ["--force"]),
                     env=runner_env(), check=False)
        self.assertNotEqual(result.returncode, 0)
        with open(other) as f:
            self.assertEqual(f.read(), "keep me")


if __name__ == "__main__":
    CLI = os.path.abspath(sys.argv.pop(1))
    with tempfile.TemporaryDirectory() as work:
        WORK = work
        unittest.main(verbosity=2)
