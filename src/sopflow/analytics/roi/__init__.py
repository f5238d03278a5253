"""ROI (投产比): revenue attributed to channels against actual costs, CAC and payback (see ``definition``)."""

from sopflow.analytics.roi.aggregate import RoiResult, compute_roi

__all__ = ["RoiResult", "compute_roi"]
