"""AARRR (海盗模型): the five life-cycle stages from the playbook funnel's stage tags (see ``definition``)."""

from sopflow.analytics.aarrr.aggregate import AarrrResult, compute_aarrr

__all__ = ["AarrrResult", "compute_aarrr"]
