"""Retention: cohorts by the period of their first start event, and who comes back in each later period."""

from sopflow.analytics.retention.aggregate import RetentionResult, compute_retention
from sopflow.analytics.retention.definition import RetentionKernel, RetentionSpec

__all__ = ["RetentionKernel", "RetentionResult", "RetentionSpec", "compute_retention"]
