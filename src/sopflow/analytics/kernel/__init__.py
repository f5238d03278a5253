"""Compiled per-person kernels, loaded through ctypes (see :mod:`sopflow.analytics.kernel.build`)."""
