"""Simulated campaigns: the events a playbook's campaign would produce, for demos, tests and benchmarks."""
