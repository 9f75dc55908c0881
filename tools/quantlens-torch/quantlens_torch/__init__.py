"""QuantLens's sensitivity report from PyTorch: the same figures QuantLens's engine computes,
for any torch.nn.Module, on GPUs and across nodes with torch.distributed (README.md here)."""
from .measure import Calibration, Options
from .runner import SCHEMA, report, write_report
from .specs import Spec, SpecError, parse_specs
from .task import Task

__all__ = ["Calibration", "Options", "SCHEMA", "report", "write_report", "Spec", "SpecError", "parse_specs", "Task"]
