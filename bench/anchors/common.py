"""Argument parsing and output shared by the anchor scripts (kept tiny: it is part of their start-up)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Args:
    files: str  # a glob or file path both engines accept
    steps: list[str]
    window: int  # seconds, inclusive
    person: str


def parse(description: str) -> Args:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "dataset", type=Path, help="Parquet file, or a folder of Parquet files (searched recursively)"
    )
    parser.add_argument("--steps", required=True, help="comma-separated event names, step 1 first")
    parser.add_argument("--window", type=int, default=7 * 86_400, help="window in seconds (default 7 days)")
    parser.add_argument("--person", default="person_id", help="column that identifies a person")
    ns = parser.parse_args()
    steps = [s.strip() for s in ns.steps.split(",") if s.strip()]
    if len(steps) < 2:
        parser.error("--steps needs at least two events")
    dataset: Path = ns.dataset
    files = str(dataset / "**" / "*.parquet") if dataset.is_dir() else str(dataset)
    return Args(files=files, steps=steps, window=ns.window, person=ns.person)


def quote(text: str) -> str:
    """A SQL string literal (both dialects double the single quote)."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def users_from_levels(levels: dict[int, int], steps: int) -> list[int]:
    """Persons reaching each step from a histogram of persons by highest level reached."""
    return [sum(n for level, n in levels.items() if level >= i) for i in range(1, steps + 1)]


def emit(anchor: str, users: list[int], query_seconds: float) -> None:
    print(json.dumps({"anchor": anchor, "users": users, "query_seconds": round(query_seconds, 4)}))
