"""The console's Events API: upload → preview → import as a job with progress → rejects; the live tail of
incoming events; API keys; and background jobs (owner or admin only)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from openpyxl import Workbook

from sopflow.accounts.audit import list_audit
from sopflow.web.auth import CSRF_HEADER
from sopflow.web.background.jobs import job_runner
from sopflow.web.background.uploads import uploads_dir

from .console_api import Console, assert_error, console
from .helpers import read_events

__all__ = ["console"]

# 手机号 is not a built-in alias: the user maps it to user_id. Row 3 (as Excel counts) has no valid time.
CSV_FILE = (
    "手机号,行为,时间,渠道,备注\n"
    "13800000001,signup,2025-03-05 09:05:33,moments,first\n"
    "13800000002,signup,not a time,moments,bad\n"
    "13800000002,pay,2025-03-05 10:00:00,moments,\n"
).encode()
MAPPING = {"手机号": "user_id", "行为": "event", "时间": "ts", "渠道": "channel", "备注": ""}


def upload(c: Console, name: str, data: bytes, *, csrf: bool = True) -> httpx.Response:
    headers = {CSRF_HEADER: c.csrf} if csrf else {}
    return c.client.post("/api/v1/event-uploads", files={"file": (name, data)}, headers=headers)


def finished(c: Console, job: dict[str, Any]) -> dict[str, Any]:
    job_runner().wait(job["id"], timeout=60)
    return c.ok(c.get(f"/api/v1/jobs/{job['id']}"))


def stored(c: Console) -> list[dict[str, Any]]:
    return read_events(c.services.settings.workspace)


def test_upload_preview_map_import_and_rejects(console: Console) -> None:
    c = console.login("op")
    preview = c.ok(upload(c, "报名.csv", CSV_FILE), 201)
    assert preview["columns"] == ["手机号", "行为", "时间", "渠道", "备注"]
    assert preview["rows"][0]["手机号"] == "13800000001"
    # Built-in aliases are suggested; 手机号 is not one, so it stays a property until the user maps it.
    assert preview["mapping"] == {"手机号": "", "行为": "event", "时间": "ts", "渠道": "channel", "备注": ""}
    assert {"event", "user_id", "ts"} == set(preview["required"])

    job = c.ok(c.post(f"/api/v1/event-uploads/{preview['upload']}/import", {"mapping": MAPPING}), 202)
    assert job["state"] in {"queued", "running", "done"} and job["kind"] == "events.import"
    done = finished(c, job)
    assert done["state"] == "done", done
    assert done["fraction"] == 1.0
    result = done["result"]
    assert (result["rows"], result["imported"], result["rejected"]) == (3, 2, 1)
    assert result["timezone"] == "Asia/Shanghai"

    events = stored(c)
    assert [(e["user_id"], e["event"]) for e in events] == [("13800000001", "signup"), ("13800000002", "pay")]
    assert events[0]["ts"] == datetime(2025, 3, 5, 1, 5, 33, tzinfo=UTC)  # read in Asia/Shanghai
    assert json.loads(events[0]["properties"]) == {"备注": "first"}

    response = c.get(f"/api/v1/event-uploads/{preview['upload']}/rejects.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["file", "row", "column", "field", "reason", "value"]
    assert len(rows) == 2
    assert rows[1][:4] == ["报名.csv", "3", "时间", "ts"] and rows[1][5] == "not a time"
    assert str(c.services.settings.workspace.root) not in response.text  # no server path leaks

    # Importing the same file again adds nothing (dedupe), and says so.
    again = finished(
        c, c.ok(c.post(f"/api/v1/event-uploads/{preview['upload']}/import", {"mapping": MAPPING}), 202)
    )
    assert again["result"]["imported"] == 0 and again["result"]["duplicates"] == 2
    assert len(stored(c)) == 2


def test_an_excel_file_imports_too(console: Console) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["user_id", "event", "timestamp"])
    sheet.append(["u1", "join_group", datetime(2025, 3, 5, 9, 0)])
    sheet.append(["u2", "join_group", datetime(2025, 3, 5, 9, 30)])
    out = io.BytesIO()
    book.save(out)
    c = console.login("op")
    preview = c.ok(upload(c, "群.xlsx", out.getvalue()), 201)
    assert preview["format"] == "xlsx"
    assert preview["mapping"] == {"user_id": "user_id", "event": "event", "timestamp": "ts"}
    done = finished(c, c.ok(c.post(f"/api/v1/event-uploads/{preview['upload']}/import", {}), 202))
    assert done["result"]["imported"] == 2 and done["result"]["rejected"] == 0
    assert {e["user_id"] for e in stored(c)} == {"u1", "u2"}


def test_a_file_that_is_not_a_table_is_refused_and_nothing_kept(console: Console) -> None:
    c = console.login("op")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    cases = [
        ("photo.png", png),
        ("photo.csv", png),
        ("bytes.csv", b"\x00\x01\x02\x03,\x04\n\x05,\x06\n"),
        ("book.xlsx", b"PK\x03\x04 not really a workbook"),
        ("empty.csv", b""),
        ("blank.csv", "\ufeff\n\n".encode()),
        ("old.xls", b"x"),
    ]
    for name, data in cases:
        error = assert_error(upload(c, name, data), 422, "not_a_table")
        assert name in error["message"]
        assert str(c.services.settings.workspace.root) not in error["message"]
    root = uploads_dir(c.services.settings.workspace)
    assert not root.exists() or not any(root.iterdir())
    assert stored(c) == []


def test_a_bad_mapping_is_refused_before_any_job(console: Console) -> None:
    c = console.login("op")
    upload_id = c.ok(upload(c, "a.csv", CSV_FILE), 201)["upload"]
    before = len(c.ok(c.get("/api/v1/jobs"))["jobs"])
    cases = [
        ({"手机号": "user_id", "行为": "event", "时间": "-"}, "ts"),  # no time
        ({"手机号": "user_id", "行为": "user_id", "时间": "ts"}, "行为"),  # two columns feed user_id
        ({"手机号": "phone_number"}, "phone_number"),  # not a field
        ({"没有": "user_id"}, "没有"),  # not a column
    ]
    for mapping, named in cases:
        error = assert_error(
            c.post(f"/api/v1/event-uploads/{upload_id}/import", {"mapping": mapping}), 422, "invalid_mapping"
        )
        assert named in error["message"]
    assert len(c.ok(c.get("/api/v1/jobs"))["jobs"]) == before
    assert stored(c) == []


def test_roles_and_ownership_of_uploads_and_jobs(console: Console) -> None:
    c = console.login("op")
    upload_id = c.ok(upload(c, "a.csv", CSV_FILE), 201)["upload"]
    job = finished(c, c.ok(c.post(f"/api/v1/event-uploads/{upload_id}/import", {"mapping": MAPPING}), 202))
    assert job["id"] in {j["id"] for j in c.ok(c.get("/api/v1/jobs"))["jobs"]}
    assert_error(upload(c, "a.csv", CSV_FILE, csrf=False), 403, "csrf_missing")

    c.login("guest")
    assert_error(upload(c, "a.csv", CSV_FILE), 403, "forbidden")
    assert_error(c.post(f"/api/v1/event-uploads/{upload_id}/import", {"mapping": MAPPING}), 403, "forbidden")
    assert_error(c.get(f"/api/v1/jobs/{job['id']}"), 404, "not_found")  # not theirs
    assert c.ok(c.get("/api/v1/jobs"))["jobs"] == []

    c.login("boss")  # admins see every job and upload
    assert c.ok(c.get(f"/api/v1/jobs/{job['id']}"))["owner"] == "op"
    assert c.get(f"/api/v1/event-uploads/{upload_id}/rejects.csv").status_code == 200
    assert_error(c.get("/api/v1/jobs/nope"), 404, "not_found")
    assert_error(c.get("/api/v1/event-uploads/../../etc/rejects.csv"), 404, "not_found")
    assert len(stored(c)) == 2


def test_recent_events_tail_what_arrives(console: Console) -> None:
    c = console.login("boss")
    key = c.ok(c.post("/api/v1/keys", {"name": "小程序"}), 201)["key"]
    empty = c.ok(c.get("/api/v1/events/recent"))
    assert empty["events"] == [] and not empty["more"]

    def send(*events: dict[str, Any]) -> None:
        response = c.client.post(
            "/api/v1/events", json=list(events), headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, response.text

    send(
        {"event": "signup", "user_id": "13812345678", "ts": "2025-03-05T09:00:00+08:00", "channel": "moments"}
    )
    send({"event": "pay", "user_id": "13812345678", "ts": "2025-03-05T10:00:00+08:00", "revenue": 99.5})
    first = c.ok(c.get("/api/v1/events/recent"))
    assert [e["event"] for e in first["events"]] == ["pay", "signup"]  # latest arrival first
    assert first["events"][0]["revenue"] == "99.5"
    assert c.ok(c.get("/api/v1/events/recent", after=first["cursor"]))["events"] == []

    send({"event": "share", "user_id": "u9", "ts": "2025-03-05T11:00:00+08:00"})
    later = c.ok(c.get("/api/v1/events/recent", after=first["cursor"]))
    assert [e["event"] for e in later["events"]] == ["share"]
    assert [e["event"] for e in c.ok(c.get("/api/v1/events/recent", limit=1))["events"]] == ["share"]
    assert c.ok(c.get("/api/v1/events/recent", limit=1))["more"] is True

    c.login("guest")  # viewers see contact-like ids masked
    shown = {e["event"]: e["user_id"] for e in c.ok(c.get("/api/v1/events/recent"))["events"]}
    assert shown["pay"] == "138****5678"
    assert_error(c.get("/api/v1/events/recent", after="../../x:1"), 422, "invalid_cursor")


def test_api_keys_are_shown_once_revoked_and_audited(console: Console) -> None:
    c = console.login("boss")
    created = c.ok(c.post("/api/v1/keys", {"name": "小程序"}), 201)
    assert created["key"].startswith("sf_") and created["key"].startswith(created["record"]["prefix"])
    listed = c.ok(c.get("/api/v1/keys"))
    assert created["key"] not in json.dumps(listed)
    assert [k["name"] for k in listed["keys"]] == ["小程序"]

    for name in ("op", "guest"):
        c.login(name)
        assert_error(c.post("/api/v1/keys", {"name": "x"}), 403, "forbidden")
        assert_error(c.post(f"/api/v1/keys/{created['record']['id']}/revoke"), 403, "forbidden")
    c.login("boss")
    assert_error(c.post("/api/v1/keys", {"name": "x"}, csrf=False), 403, "csrf_missing")
    revoked = c.ok(c.post(f"/api/v1/keys/{created['record']['id']}/revoke"))
    assert revoked["active"] is False
    assert_error(c.post("/api/v1/keys/9999/revoke"), 404, "not_found")
    with c.services.database.session() as session:
        actions = [(e.actor, e.action) for e in list_audit(session=session, limit=10)]
    assert ("boss", "key.create") in actions and ("boss", "key.revoke") in actions
    assert len(c.ok(c.get("/api/v1/keys"))["keys"]) == 1
