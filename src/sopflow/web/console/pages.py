"""Importing this module registers every console page with NiceGUI."""

from sopflow.web.console import analytics, audit, campaigns, events, login, overview, playbooks, settings

__all__ = ["analytics", "audit", "campaigns", "events", "login", "overview", "playbooks", "settings"]
