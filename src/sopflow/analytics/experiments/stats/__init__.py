"""The statistics of an experiment, on small sufficient statistics per arm (no per-person data here).

``moments``: per-arm sums and the difference between two arms; ``frequentist`` (Welch), ``bayesian``
(flat prior, normal approximation), ``sequential`` (always-valid confidence sequences) and ``cuped``
(variance reduction with the pre-exposure period) turn a difference into an interval and a decision.
"""
