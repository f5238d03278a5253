"""Local receivers for sopflow's own deliveries: the generic-webhook receiver used by the demo, the
benchmark and the crash test (``start_receiver``), also runnable as a process of its own with
``python -m sopflow.channels.receivers --port P --secret S --log FILE``."""

from __future__ import annotations

from sopflow.channels.receivers.webhook_receiver import ReceivedDelivery, Receiver, read_log, start_receiver

__all__ = ["ReceivedDelivery", "Receiver", "read_log", "start_receiver"]
