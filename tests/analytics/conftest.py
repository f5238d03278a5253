"""Make the analytics test helpers (reference funnel, support code) importable by name."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def spark() -> Any:
    """The SparkSession the Spark tests share (local[2]); see spark_support."""
    from spark_support import shared_session

    return shared_session()
