"""Referral (裂变): who invited whom, K-factor overall and per generation, and the invitation tree."""

from sopflow.analytics.referral.aggregate import ReferralResult, ReferralSpec, compute_referral
from sopflow.analytics.referral.definition import ReferralKernel

__all__ = ["ReferralKernel", "ReferralResult", "ReferralSpec", "compute_referral"]
