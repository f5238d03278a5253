"""Exposure and metric values per person, in one pass over the (person, time)-sorted events.

Per person (the engine hands each person's rows in time order, see :mod:`sopflow.analytics.frame`):

- exposure: the first ``sop_touch`` event of the step (of ``--campaign`` when given) that names a
  variant; its time ``t0`` starts the window, its variant is the arm. A person whose touches of that step
  name more than one variant is *mixed*: left out of every arm and counted (ties at ``t0`` included,
  so the result does not depend on the order of ties);
- for each metric (the main one, then the guardrails) its value after exposure, in
  ``t0 ≤ ts ≤ t0 + window`` (inclusive, as the funnel's window), and before it, in
  ``t0 − pre_window ≤ ts < t0`` (CUPED's covariate): see :mod:`.spec` for what each metric counts.

:func:`arm_statistics` then reduces those rows to ``n, Σy, Σy², Σx, Σx², Σxy`` per arm and metric: the only
numbers the statistics read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sopflow.analytics.conditions import stage_rows
from sopflow.analytics.experiments.spec import EXPOSURE_EVENT, ExperimentSpec, MetricSpec
from sopflow.analytics.experiments.stats.moments import ArmStats
from sopflow.analytics.frame import BOOKKEEPING_EVENTS, Coded, FrameRequest, PersonFrame, PersonTable

DAY_US = 86_400_000_000
_NO_CODE = np.iinfo(np.int32).max


@dataclass(frozen=True)
class ExposureKernel:
    """The per-person function of an experiment (a frozen dataclass: hashable, and picklable for Spark)."""

    spec: ExperimentSpec

    def request(self) -> FrameRequest:
        spec = self.spec
        columns = ["step", "variant"]
        if spec.campaign is not None:
            columns += ["campaign", "campaign_id"]
        events: set[str] | None = {EXPOSURE_EVENT}
        for metric in spec.metrics:
            columns += [c.prop for c in metric.conditions]
            if metric.kind == "revenue":
                columns.append("revenue")
            if metric.kind == "conversion" and events is not None and metric.event:
                events.add(metric.event)
            if metric.kind in ("retention", "revenue"):
                events = None  # any event may count
        unique = tuple(dict.fromkeys(columns))
        if events is None:
            return FrameRequest(events=None, columns=unique, exact_events=False)
        return FrameRequest(events=frozenset(events), columns=unique)

    def __call__(self, frame: PersonFrame) -> PersonTable:
        spec, n = self.spec, frame.n_persons
        ts = np.asarray(frame.ts, dtype=np.int64)
        event = np.asarray(frame.event)
        person = frame.person_of_rows()
        variant = frame.columns["variant"]
        codes = np.asarray(variant.codes, dtype=np.int32)

        of_step = event == frame.event_code(EXPOSURE_EVENT)
        of_step &= _is_value(frame.columns["step"], spec.step)
        if spec.campaign is not None:
            # a campaign run by sopflow's worker is named by its id or its name; a simulated one by its name
            named = _is_value(frame.columns["campaign"], spec.campaign)
            of_step &= named | _is_value(frame.columns["campaign_id"], spec.campaign)
        touch = of_step & (codes >= 0)
        rows = np.flatnonzero(touch)
        owners = person[rows]
        head = np.ones(len(rows), dtype=bool)
        head[1:] = owners[1:] != owners[:-1]  # rows are grouped by person, in time order
        t0 = np.full(n, -1, dtype=np.int64)
        t0[owners[head]] = ts[rows[head]]
        low = np.full(n, _NO_CODE, dtype=np.int32)
        high = np.full(n, -1, dtype=np.int32)
        np.minimum.at(low, owners, codes[rows])
        np.maximum.at(high, owners, codes[rows])
        exposed = t0 >= 0
        mixed = exposed & (low != high)
        arm = np.where(exposed & ~mixed, low, -1).astype(np.int32)

        out: PersonTable = {
            "arm": Coded(arm, list(variant.values)),
            "mixed": mixed.astype(np.int8),
            "t0": t0,
            "touched": (np.bincount(person[of_step], minlength=n) > 0).astype(np.int8),
            # no person's own value: the dictionary carries the steps the exposure events name
            "steps": Coded(np.full(n, -1, dtype=np.int32), list(frame.columns["step"].values)),
        }
        for i, metric in enumerate(spec.metrics):
            post, pre = self._metric(metric, frame, ts, event, person, t0)
            out[f"value{i}"] = post
            out[f"pre{i}"] = pre
        return out

    def _metric(
        self,
        metric: MetricSpec,
        frame: PersonFrame,
        ts: np.ndarray,
        event: np.ndarray,
        person: np.ndarray,
        t0: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        spec, n = self.spec, frame.n_persons
        if metric.kind == "conversion":
            keep = stage_rows(frame, event=metric.event or "", conditions=metric.conditions)
        else:
            skip = [frame.event_code(e) for e in (EXPOSURE_EVENT, *BOOKKEEPING_EVENTS)]
            keep = ~np.isin(event, [c for c in skip if c >= 0])
        rows = np.flatnonzero(keep & (t0[person] >= 0))
        owners = person[rows]
        since = ts[rows] - t0[owners]
        weights = None
        if metric.kind == "revenue":
            weights = _numbers(frame.columns["revenue"])[rows]
        if metric.kind == "retention":
            start = (metric.day or 0) * DAY_US
            after = (since >= start) & (since < start + DAY_US)
        else:
            after = (since >= 0) & (since <= spec.window_us)
        before = (since < 0) & (since >= -spec.pre_us)
        return _per_person(owners, after, weights, n, metric), _per_person(owners, before, weights, n, metric)


def _per_person(
    owners: np.ndarray, chosen: np.ndarray, weights: np.ndarray | None, n: int, metric: MetricSpec
) -> np.ndarray:
    if metric.kind == "revenue":
        assert weights is not None
        summed: np.ndarray = np.bincount(owners[chosen], weights=weights[chosen], minlength=n)
        return summed
    return (np.bincount(owners[chosen], minlength=n) > 0).astype(np.float64)


def _is_value(column: Coded, value: str) -> np.ndarray:
    try:
        code = column.values.index(value)
    except ValueError:
        return np.zeros(len(column), dtype=bool)
    hit: np.ndarray = np.asarray(column.codes) == code
    return hit


def _numbers(column: Coded) -> np.ndarray:
    """Each row's value as a number (0 where missing or not a number): revenue is stored as its text."""
    table = np.zeros(len(column.values) + 1, dtype=np.float64)  # the last slot: code −1, missing
    for i, text in enumerate(column.values):
        try:
            table[i] = float(text)
        except ValueError:
            table[i] = 0.0
    # NaN and infinities are no money: 0, like a missing value
    table[~np.isfinite(table)] = 0.0
    numbers: np.ndarray = table[np.asarray(column.codes)]
    return numbers


@dataclass(frozen=True)
class Exposures:
    """What the pass found: sufficient statistics per arm and metric, and who was left out."""

    arms: dict[str, list[ArmStats]]  # arm → one ArmStats per metric (main first)
    mixed: int
    last_exposure_us: int | None
    touched: int  # persons with a touch of the step, with or without a variant
    known_steps: tuple[str, ...]  # the steps events name, for the error of an unknown step


def arm_statistics(table: PersonTable, metrics: int) -> Exposures:
    if "arm" not in table:  # no events at all: an engine returns no columns for no persons
        return Exposures(arms={}, mixed=0, last_exposure_us=None, touched=0, known_steps=())
    arm = table["arm"]
    assert isinstance(arm, Coded)
    codes = np.asarray(arm.codes)
    chosen = codes >= 0
    present = np.unique(codes[chosen])
    out: dict[str, list[ArmStats]] = {}
    for code in present.tolist():
        rows = codes == code
        stats = []
        for i in range(metrics):
            y = np.asarray(table[f"value{i}"], dtype=np.float64)[rows]
            x = np.asarray(table[f"pre{i}"], dtype=np.float64)[rows]
            stats.append(
                ArmStats(
                    n=int(rows.sum()),
                    total=float(y.sum()),
                    total_sq=float((y * y).sum()),
                    pre_total=float(x.sum()),
                    pre_total_sq=float((x * x).sum()),
                    cross=float((x * y).sum()),
                    positives=int((y > 0).sum()),
                )
            )
        out[arm.values[code]] = stats
    t0 = np.asarray(table["t0"])
    mixed = int(np.asarray(table["mixed"]).sum())
    steps = table["steps"]
    assert isinstance(steps, Coded)
    return Exposures(
        arms=out,
        mixed=mixed,
        last_exposure_us=int(t0.max()) if len(t0) and t0.max() >= 0 else None,
        touched=int(np.asarray(table["touched"]).sum()),
        known_steps=tuple(sorted(steps.values)),
    )
