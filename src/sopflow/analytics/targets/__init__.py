"""Targets (预期) against the data: expected, actual, gap, status and the biggest findings (see ``actuals``)."""

from sopflow.analytics.targets.aggregate import TargetsResult, compute_targets

__all__ = ["TargetsResult", "compute_targets"]
