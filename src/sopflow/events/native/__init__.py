"""Compiled helpers of the event store (C, built on first use like the analytics kernels)."""
