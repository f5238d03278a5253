"""The generic webhook adapter and the local receiver: signature, dedupe by delivery id, failures, the log."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sopflow.channels.base import DeliveryError, EndpointConfig, Message
from sopflow.channels.receivers import Receiver, read_log, start_receiver
from sopflow.channels.registry import make_adapter
from sopflow.channels.webhook import WebhookAdapter, sign_webhook, verify_webhook

SECRET = "whsec-3f9a0c2b7d1e"


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    with start_receiver(secret=SECRET, log=tmp_path / "received.jsonl") as running:
        yield running


def _adapter(url: str, secret: str | None = SECRET) -> WebhookAdapter:
    adapter = make_adapter(EndpointConfig(name="hook", kind="webhook", url=url, secret=secret), timeout=5)
    assert isinstance(adapter, WebhookAdapter)
    return adapter


def _msg(delivery_id: str = "task-7-r1") -> Message:
    return Message(
        title="提醒",
        text="第 1 天 20:00 发开营话术",
        delivery_id=delivery_id,
        metadata={"campaign": "3", "task": "7"},
    )


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    """The documented recipe, computed independently: a team verifying with it gets the same value."""
    body = b'{"delivery_id":"x"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign_webhook(SECRET, 1700000000, body) == f"sha256={expected}"
    headers = {"x-sopflow-timestamp": "1700000000", "X-Sopflow-Signature": f"sha256={expected}"}
    assert verify_webhook(SECRET, headers, body, now=1700000100) is None
    assert verify_webhook(SECRET, headers, body + b" ", now=1700000100) == "signature mismatch"
    assert verify_webhook(SECRET, headers, body, now=1700000000 + 301) == "timestamp outside the tolerance"
    assert verify_webhook("other", headers, body, now=1700000000) == "signature mismatch"


def test_delivery_is_verified_recorded_and_logged(receiver: Receiver, tmp_path: Path) -> None:
    result = _adapter(receiver.url).send(_msg())
    assert "HTTP 200" in result.response
    (got,) = receiver.received()
    assert got.delivery_id == "task-7-r1"
    assert got.body["text"] == "第 1 天 20:00 发开营话术" and got.body["metadata"] == {
        "campaign": "3",
        "task": "7",
    }
    (logged,) = read_log(tmp_path / "received.jsonl")
    assert logged.delivery_id == "task-7-r1" and logged.body == got.body and not logged.duplicate


def test_a_resend_with_the_same_id_is_deduplicated(receiver: Receiver) -> None:
    adapter = _adapter(receiver.url)
    adapter.send(_msg())
    adapter.send(_msg())
    adapter.send(_msg("task-8-r1"))
    assert [d.delivery_id for d in receiver.received()] == ["task-7-r1", "task-8-r1"]
    assert [d.delivery_id for d in receiver.duplicates()] == ["task-7-r1"]


def test_a_lost_reply_is_retryable_and_the_retry_is_a_duplicate(receiver: Receiver) -> None:
    receiver.behave(lose_replies_next=1)
    adapter = _adapter(receiver.url)
    with pytest.raises(DeliveryError) as info:
        adapter.send(_msg())
    assert info.value.retryable is True and adapter.idempotent is True
    adapter.send(_msg())
    assert len(receiver.received()) == 1 and len(receiver.duplicates()) == 1


def test_errors_from_the_receiver(receiver: Receiver) -> None:
    receiver.behave(fail_next=1, fail_status=503)
    with pytest.raises(DeliveryError) as busy:
        _adapter(receiver.url).send(_msg())
    assert busy.value.retryable is True and "503" in busy.value.message
    with pytest.raises(DeliveryError) as wrong:
        _adapter(receiver.url, secret="not-the-secret").send(_msg())
    assert (
        wrong.value.retryable is False
        and "401" in wrong.value.message
        and "signature mismatch" in wrong.value.message
    )
    assert "not-the-secret" not in wrong.value.message
    with pytest.raises(DeliveryError, match="401"):
        _adapter(receiver.url, secret=None).send(_msg())
    assert receiver.received() == [] and receiver.rejected() == 2


def test_a_slow_receiver_times_out_as_retryable(receiver: Receiver) -> None:
    receiver.behave(delay=1.5)
    adapter = WebhookAdapter(
        EndpointConfig(name="h", kind="webhook", url=receiver.url, secret=SECRET), timeout=0.3
    )
    with pytest.raises(DeliveryError, match="did not answer in time") as info:
        adapter.send(_msg())
    assert info.value.retryable is True


def test_dedupe_survives_a_restart_on_the_same_log(tmp_path: Path) -> None:
    log = tmp_path / "r.jsonl"
    with start_receiver(secret=None, log=log) as first:
        _adapter(first.url, secret=None).send(_msg())
    with start_receiver(secret=None, log=log) as second:
        _adapter(second.url, secret=None).send(_msg())
        assert second.received() == [] and len(second.duplicates()) == 1
    assert [d.duplicate for d in read_log(log)] == [False, True]


def test_receiver_in_its_own_process(tmp_path: Path) -> None:
    log = tmp_path / "proc.jsonl"
    env = {**os.environ, "SOPFLOW_RECEIVER_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sopflow.channels.receivers", "--port", "0", "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        base = url.rsplit("/", 1)[0]
        httpx.post(f"{base}/_control", json={"fail_next": 1}, timeout=5).raise_for_status()
        adapter = _adapter(url)
        with pytest.raises(DeliveryError):
            adapter.send(_msg())
        adapter.send(_msg())
        adapter.send(_msg())
        stats = httpx.get(f"{base}/_stats", timeout=5).json()
        assert stats == {"received": 1, "duplicates": 1, "rejected": 0}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert [json.loads(x)["duplicate"] for x in log.read_text().splitlines()] == [False, True]


def test_many_concurrent_deliveries_arrive_once_each(receiver: Receiver) -> None:
    from concurrent.futures import ThreadPoolExecutor

    adapter = _adapter(receiver.url)
    ids = [f"task-{i}" for i in range(200)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: adapter.send(_msg(i)), ids + ids[:50]))
    assert receiver.wait_for(200, timeout=5)
    assert sorted(d.delivery_id for d in receiver.received()) == sorted(ids)
    assert len(receiver.duplicates()) == 50
