"""Experiments (A/B tests of script variants and SOP versions): assignment, exposure, statistics, verdict.

``analyze_experiment`` runs the per-person pass on an engine and the statistics on its sufficient
statistics; ``plan_experiment`` sizes a test before it runs. See docs/experiments.md.
"""

from sopflow.analytics.experiments.assignment import assign_variant

__all__ = ["assign_variant"]
