"""Step times: `at:` nodes, `after:` chains, cycles, and time order."""

from __future__ import annotations

from pathlib import Path

import sopflow.playbook
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.schedule import find_after_cycle, resolve_offsets, schedule
from sopflow.playbook.timenode import DAY

TEMPLATES = Path(sopflow.playbook.__file__).parent / "templates"


def test_after_chain_adds_delay_to_referenced_step() -> None:
    playbook = load_playbook(TEMPLATES / "community_fission.yaml")
    offsets = resolve_offsets(playbook)
    # article is at D-5 20:30; moments_wave is `after: article + 30m`.
    assert offsets["article"] == -5 * DAY + 20 * 3600 + 30 * 60
    assert offsets["moments_wave"] == offsets["article"] + 30 * 60


def test_schedule_is_in_time_order_with_deadlines() -> None:
    rows = schedule(load_playbook(TEMPLATES / "community_fission.yaml"))
    offsets = [row.offset for row in rows]
    assert offsets == sorted(offsets)
    assert rows[0].step.id == "setup_kit"
    first = rows[0]
    assert first.deadline == first.offset + DAY  # deadline: 1d


def test_cycle_detection_returns_closed_path() -> None:
    assert find_after_cycle({"a": "b", "b": "c", "c": "a"}) == ["a", "b", "c", "a"]
    assert find_after_cycle({"a": "a"}) == ["a", "a"]
    assert find_after_cycle({"z": "a", "a": "b", "b": "a"}) == ["a", "b", "a"]
    assert find_after_cycle({"a": "b", "b": "unknown"}) is None
