"""Which targets the overview calls behind while a campaign runs: pace for totals, status for rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sopflow.analytics.targets.aggregate import TargetsResult
from sopflow.analytics.targets.status import TargetResult
from sopflow.web.console.overview.measures import CampaignMeasures, elapsed_share

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def target(metric: str, expected: float, actual: float | None, status: str = "missed") -> TargetResult:
    return TargetResult(
        id=metric,
        name=metric,
        metric=metric,
        direction="at_least",
        tolerance=0.1,
        expected=expected,
        planned=None,
        actual=actual,
        gap=None,
        relative_gap=None,
        status=status,  # type: ignore[arg-type]
    )


def measures(targets: list[TargetResult], elapsed: float) -> CampaignMeasures:
    result = TargetsResult(
        playbook={"id": "p", "name": "P", "version": "1"},
        currency="CNY",
        targets=targets,
        findings=[],
        stages=[],
        metrics={},
    )
    return CampaignMeasures(campaign_id=1, computed_at=NOW, result=result, elapsed=elapsed)


def test_a_total_is_behind_only_below_the_plans_pace() -> None:
    # Half the timeline passed: 3,000 sign-ups expected in all, so 1,500 by now, 1,350 with the tolerance.
    rows = measures([target("users.signup", 3000, 1400), target("revenue", 1000, 300)], 0.5).behind()
    assert [(r["target"], r["expected"]) for r in rows] == [("revenue", 500.0)]


def test_a_rate_is_behind_when_its_status_says_so_and_no_data_is_never_an_alert() -> None:
    rows = measures(
        [
            target("rate.pay", 0.1, 0.05, "missed"),
            target("roi", 3, None, "no_data"),
            target("k_factor", 0.3, 0.4, "met"),
        ],
        0.2,
    ).behind()
    assert [r["target"] for r in rows] == ["rate.pay"]


def hours(offset: int | None) -> datetime | None:
    return None if offset is None else NOW + timedelta(hours=offset)


@pytest.mark.parametrize(
    ("first", "last", "share"),
    [(-10, 10, 0.5), (5, 10, 0.0), (-20, -10, 1.0), (None, None, 0.0), (-1, -1, 1.0)],
)
def test_the_elapsed_share_of_the_timeline(first: int | None, last: int | None, share: float) -> None:
    assert elapsed_share(hours(first), hours(last), NOW) == share
