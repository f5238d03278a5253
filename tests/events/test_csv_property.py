"""Any CSV a spreadsheet can write (quotes, commas, line breaks in cells) imports exactly as the per-row rules say."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.events.helpers import SHANGHAI

from sopflow.events.importer import import_files
from sopflow.events.normalize import EventInvalid, normalize_event
from sopflow.events.store import EventStore
from sopflow.workspace import Workspace

_cell = st.text(alphabet=st.sampled_from(list('ab,"\n 中\u30001')), max_size=5)
_row = st.tuples(
    st.one_of(_cell, st.sampled_from(["u1", "u2"])),
    st.sampled_from(["访问", "付费", ""]),
    st.sampled_from(["2024-03-01 10:00:00", "2024/3/2 9:05", "bad", "1709600733"]),
    _cell,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_row, min_size=1, max_size=8), st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_csv_rows_import_as_the_reference_says(rows: list[tuple[str, str, str, str]], encoding: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.csv"
        with path.open("w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["用户ID", "事件", "时间", "备注"])
            writer.writerows(rows)
        expected, bad = {}, []
        for number, (user, name, when, note) in enumerate(rows, start=2):
            try:
                row = normalize_event({"用户ID": user, "事件": name, "时间": when, "备注": note}, tz=SHANGHAI)
                expected.setdefault(row["event_id"], row)
            except EventInvalid as exc:
                bad.append((number, exc.field))
        with EventStore.open(Workspace(Path(tmp) / "ws")) as store:
            report = import_files(store=store, paths=[path], tz=SHANGHAI)
            stored = {r["event_id"]: r for r in store.scan_arrow().to_pylist()}
        assert [(r.reject.row, r.reject.field) for r in report.rejects] == bad
        assert stored == expected
