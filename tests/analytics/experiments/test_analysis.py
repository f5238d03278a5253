"""``analyze_experiment`` on hand-built events: exposure, windows, mixed persons, metrics, bad input."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aarrr_support import Event, FrameEngine, fission

from sopflow.analytics.experiments.analysis import analyze_experiment
from sopflow.analytics.experiments.spec import ExperimentSpec, MetricSpec, parse_metric
from sopflow.errors import InvalidInput, NotFound

STEP = "homework_remind"
DAY = 86_400_000_000


def touch(at: str, variant: str | None, step: str = STEP, **extra: Any) -> Event:
    return (at, "sop_touch", {"step": step, "variant": variant, **extra})


def persons_of(
    groups: dict[str, tuple[int, int]], *, start: str = "2024-03-07 19:00"
) -> dict[str, list[Event]]:
    """``{arm: (persons, converted)}``: converters submit homework two days after the touch."""
    persons: dict[str, list[Event]] = {}
    for arm, (n, k) in groups.items():
        for i in range(n):
            events = [("2024-03-01 10:00", "signup", {}), touch(start, arm)]
            if i < k:
                events.append(("2024-03-09 19:00", "submit_homework", {}))
            persons[f"{arm}-{i}"] = events
    return persons


def spec(**kw: Any) -> ExperimentSpec:
    kw.setdefault("metric", parse_metric("conversion:submit_homework"))
    return ExperimentSpec(step=STEP, **kw)


@pytest.mark.parametrize("parts", [1, 3])
def test_counts_and_welch_on_the_per_person_values(parts: int) -> None:
    engine = FrameEngine(persons_of({"control": (120, 20), "social_proof": (130, 35)}), parts=parts)
    result = analyze_experiment(engine=engine, spec=spec()).as_json()
    control, variant = result["variants"]
    assert (control["variant"], control["persons"], control["conversions"]) == ("control", 120, 20)
    assert (variant["variant"], variant["persons"], variant["conversions"]) == ("social_proof", 130, 35)
    assert control["lift_abs"] is None and control["p_value"] is None
    y_c = np.array([1.0] * 20 + [0.0] * 100)
    y_t = np.array([1.0] * 35 + [0.0] * 95)
    assert variant["p_value"] == pytest.approx(stats.ttest_ind(y_t, y_c, equal_var=False).pvalue, abs=1e-9)
    assert variant["lift_abs"] == pytest.approx(35 / 130 - 20 / 120)
    assert result["srm"]["observed"] == {"control": 120, "social_proof": 130}
    assert result["srm"]["expected"] == {"control": 125.0, "social_proof": 125.0}
    assert result["window_seconds"] == 7 * 86_400
    assert result["verdict"]["code"] in {"not_conclusive", "variant_wins"}
    assert set(variant) == {
        "variant", "persons", "conversions", "mean", "lift_abs", "ci_abs", "lift_rel", "ci_rel",
        "p_value", "p_value_adjusted", "chance_to_beat_control", "expected_loss",
    }  # fmt: skip


def test_first_touch_starts_the_window_and_the_window_is_inclusive() -> None:
    persons = {
        # converts exactly 7 days after the first touch: counts
        "edge": [touch("2024-03-07 19:00", "control"), ("2024-03-14 19:00", "submit_homework", {})],
        # a second touch later does not move the window: 7 days + 1 s after the first one
        "late": [
            touch("2024-03-07 19:00", "control"),
            touch("2024-03-08 19:00", "control"),
            ("2024-03-14 19:00:01", "submit_homework", {}),
        ],
        # converted before the touch: not after exposure
        "before": [("2024-03-06 10:00", "submit_homework", {}), touch("2024-03-07 19:00", "b")],
        # the same instant as the touch counts (from exposure on)
        "same": [touch("2024-03-07 19:00", "b"), ("2024-03-07 19:00", "submit_homework", {})],
        # touched with both variants: left out, counted
        "mixed": [touch("2024-03-07 19:00", "b"), touch("2024-03-08 19:00", "control")],
        "other_step": [touch("2024-03-07 19:00", "b", step="offer_launch")],
        "untouched": [("2024-03-08 10:00", "submit_homework", {})],
    }
    result = analyze_experiment(engine=FrameEngine(persons, parts=2), spec=spec())
    data = result.as_json()
    rows = {r["variant"]: r for r in data["variants"]}
    assert (rows["control"]["persons"], rows["control"]["conversions"]) == (2, 1)
    assert (rows["b"]["persons"], rows["b"]["conversions"]) == (2, 1)
    assert data["mixed_persons"] == 1
    assert "mixed_arms" in {w["code"] for w in data["warnings"]}


def test_conditions_revenue_and_retention() -> None:
    pay = {"product": "system_course", "revenue": "699.0000"}
    persons = {
        "a": [touch("2024-03-07 19:00", "control"), ("2024-03-08 10:00", "pay", pay)],
        "b": [
            touch("2024-03-07 19:00", "control"),
            ("2024-03-08 10:00", "pay", {"product": "book", "revenue": "9"}),
        ],
        "c": [touch("2024-03-07 19:00", "v"), ("2024-03-09 20:00", "visit", {})],
        "d": [
            touch("2024-03-07 19:00", "v"),
            ("2024-03-10 20:00", "visit", {}),
            ("2024-03-08 09:00", "pay", pay),
        ],
    }
    main = parse_metric("conversion:pay", where=["product=system_course"])
    guards = (MetricSpec("revenue"), parse_metric("retention:2"))
    data = analyze_experiment(
        engine=FrameEngine(persons), spec=spec(metric=main, guardrails=guards)
    ).as_json()
    assert [r["conversions"] for r in data["variants"]] == [1, 1]
    revenue, retention = data["guardrails"]
    assert revenue["metric"] == "revenue" and [r["mean"] for r in revenue["variants"]] == [354.0, 349.5]
    # day 2 after exposure is [+48h, +72h): c's visit at +49h counts, d's at +73h does not
    assert [r["conversions"] for r in retention["variants"]] == [0, 1]


def test_cuped_reads_the_pre_period() -> None:
    rng = np.random.default_rng(5)
    persons: dict[str, list[Event]] = {}
    for i in range(400):
        arm = "control" if i % 2 else "v"
        events = [touch("2024-03-07 19:00", arm)]
        engaged = rng.random() < 0.5
        if engaged:
            events.append(("2024-03-03 10:00", "submit_homework", {}))
        if rng.random() < (0.8 if engaged else 0.05):
            events.append(("2024-03-09 10:00", "submit_homework", {}))
        persons[f"p{i}"] = events
    plain = analyze_experiment(engine=FrameEngine(persons), spec=spec()).as_json()["variants"][1]
    cuped = analyze_experiment(engine=FrameEngine(persons), spec=spec(cuped=True)).as_json()["variants"][1]
    assert cuped["ci_abs"][1] - cuped["ci_abs"][0] < 0.8 * (plain["ci_abs"][1] - plain["ci_abs"][0])


def test_corrections_cover_variants_and_guardrails() -> None:
    persons = persons_of({"control": (200, 20), "b": (200, 40), "c": (200, 22)})
    guard = (parse_metric("retention:2"),)
    data = analyze_experiment(
        engine=FrameEngine(persons), spec=spec(guardrails=guard, correction="holm")
    ).as_json()
    rows = data["variants"][1:] + data["guardrails"][0]["variants"][1:]
    raw = [r["p_value"] for r in rows]
    assert len(raw) == 4 and None not in raw
    assert [r["p_value_adjusted"] for r in rows] == pytest.approx(list(multipletests(raw, method="holm")[1]))


def test_bayesian_fields_and_a_winner() -> None:
    persons = persons_of({"control": (1000, 100), "b": (1000, 160)})
    data = analyze_experiment(engine=FrameEngine(persons), spec=spec(test="bayesian")).as_json()
    row = data["variants"][1]
    assert row["p_value"] is None and row["chance_to_beat_control"] > 0.99 and row["expected_loss"] >= 0
    assert data["verdict"]["code"] == "variant_wins"


def test_srm_comes_first_in_the_verdict() -> None:
    persons = persons_of({"control": (1000, 100), "b": (1300, 200)})
    data = analyze_experiment(engine=FrameEngine(persons), spec=spec()).as_json()
    assert data["srm"]["mismatch"] and data["verdict"]["code"] == "srm"
    # with the weights that planned it, there is no mismatch
    weighted = spec(weights=(("control", 1000 / 2300), ("b", 1300 / 2300)))
    assert (
        analyze_experiment(engine=FrameEngine(persons), spec=weighted).as_json()["verdict"]["code"]
        == "variant_wins"
    )


def test_inconclusive_says_how_many_more_persons() -> None:
    persons = persons_of({"control": (150, 15), "b": (150, 18)})
    verdict = analyze_experiment(engine=FrameEngine(persons), spec=spec()).verdict
    assert verdict.code == "not_conclusive"
    assert "Not conclusive yet" in verdict.message and "more persons per arm" in verdict.message


def test_a_metric_event_that_never_occurs_is_a_warning() -> None:
    persons = persons_of({"control": (150, 15), "b": (150, 18)})
    data = analyze_experiment(
        engine=FrameEngine(persons), spec=spec(metric=parse_metric("conversion:nope"))
    ).as_json()
    assert "metric_never" in {w["code"] for w in data["warnings"]}
    assert data["variants"][1]["p_value"] is None


def test_bad_input() -> None:
    engine = FrameEngine(persons_of({"control": (5, 1), "b": (5, 2)}))
    with pytest.raises(NotFound, match="offer_launch"):
        analyze_experiment(
            engine=engine, spec=ExperimentSpec(step="offer_launch", metric=MetricSpec("revenue"))
        )
    with pytest.raises(InvalidInput, match="not an arm"):
        analyze_experiment(engine=engine, spec=spec(control="nobody"))
    with pytest.raises(InvalidInput, match="not in the weights"):
        analyze_experiment(engine=engine, spec=spec(weights=(("control", 0.5), ("c", 0.5))))
    one_arm = FrameEngine(persons_of({"control": (5, 1)}))
    with pytest.raises(InvalidInput, match="only one arm"):
        analyze_experiment(engine=one_arm, spec=spec())
    no_variant = FrameEngine({"p": [touch("2024-03-07 19:00", None)]})
    with pytest.raises(InvalidInput, match="no variant"):
        analyze_experiment(engine=no_variant, spec=spec())
    with pytest.raises(InvalidInput, match="no script variants"):
        analyze_experiment(engine=engine, spec=spec(), playbook=_without_variants())
    with pytest.raises(NotFound, match="not in the playbook"):
        analyze_experiment(
            engine=engine, spec=ExperimentSpec(step="nope", metric=MetricSpec("revenue")), playbook=fission()
        )


def _without_variants() -> Any:
    playbook = fission()
    for script in playbook.scripts:
        script.variants = []
    return playbook


def test_the_playbook_gives_the_weights() -> None:
    engine = FrameEngine(persons_of({"control": (60, 6), "social_proof": (40, 5)}))
    data = analyze_experiment(engine=engine, spec=spec(), playbook=fission()).as_json()
    assert data["srm"]["expected"] == {"control": 50.0, "social_proof": 50.0}


def test_campaign_keeps_only_its_touches() -> None:
    persons = {
        "a": [touch("2024-03-07 19:00", "control", campaign="c1")],
        "b": [touch("2024-03-07 19:00", "v", campaign="c1")],
        "c": [touch("2024-03-07 19:00", "v", campaign="c2")],
        # the first touch of c1 counts, even after a touch of another campaign
        "d": [
            touch("2024-03-06 19:00", "v", campaign="c2"),
            touch("2024-03-07 19:00", "control", campaign="c1"),
        ],
    }
    data = analyze_experiment(engine=FrameEngine(persons, parts=2), spec=spec(campaign="c1")).as_json()
    assert {r["variant"]: r["persons"] for r in data["variants"]} == {"control": 2, "v": 1}
    assert data["mixed_persons"] == 0
    with pytest.raises(NotFound, match="campaign 'c3'"):
        analyze_experiment(engine=FrameEngine(persons), spec=spec(campaign="c3"))


def test_an_arm_of_the_weights_without_persons_is_a_mismatch() -> None:
    persons = persons_of({"control": (500, 50), "b": (500, 60)})
    weights = (("control", 1 / 3), ("b", 1 / 3), ("c", 1 / 3))
    data = analyze_experiment(engine=FrameEngine(persons), spec=spec(weights=weights)).as_json()
    assert data["srm"]["observed"] == {"control": 500, "b": 500, "c": 0}
    assert data["srm"]["mismatch"] and data["verdict"]["code"] == "srm"
    assert [r["variant"] for r in data["variants"]] == ["control", "b", "c"]
    assert data["variants"][2]["p_value"] is None
