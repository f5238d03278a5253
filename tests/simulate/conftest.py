"""Shared simulated data: one large run per session, generated once."""

from __future__ import annotations

import pyarrow as pa
import pytest
from tests.simulate.helpers import LARGE_USERS, playbook_of

from sopflow.playbook.model import Playbook
from sopflow.simulate.generator import Options, table_of


@pytest.fixture(scope="session")
def fission() -> Playbook:
    return playbook_of("community_fission")


@pytest.fixture(scope="session")
def fission_events(fission: Playbook) -> pa.Table:
    """A large run without noise: realised rates are compared with the plan on it."""
    return table_of(playbook=fission, options=Options(users=LARGE_USERS, seed=7, noise=False))


@pytest.fixture(scope="session")
def noisy_events(fission: Playbook) -> pa.Table:
    return table_of(playbook=fission, options=Options(users=3_000, seed=11))
