"""``/wecom/callback`` on the app: URL check, every event type mapped and stored, refusals write nothing."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from sopflow.settings import Settings

from .conftest import stored_events
from .wecom_cipher import TOKEN, callback_request, chat_event, contact_event, wecom_encrypt, wecom_sign
from .wecom_server import CORP_ID

URL = "/wecom/callback"


def post(client: Any, message: str, **options: Any) -> Any:
    query, body = callback_request(message, receiver=options.pop("receiver", CORP_ID), **options)
    return client.post(URL, params=query, content=body)


def test_url_verification_answers_the_decrypted_echostr(client: Any) -> None:
    echostr = wecom_encrypt(b"1616140317555161061", receiver=CORP_ID)
    query = {"timestamp": "1409659589", "nonce": "263014780", "echostr": echostr}
    query["msg_signature"] = wecom_sign(TOKEN, query["timestamp"], query["nonce"], echostr)
    response = client.get(URL, params=query)
    assert response.status_code == 200 and response.text == "1616140317555161061"
    query["msg_signature"] = "0" * 40
    assert client.get(URL, params=query).status_code == 403


CONTACT_CASES = [
    ("add_external_contact", "wecom_contact_added"),
    ("add_half_external_contact", "wecom_contact_added_half"),
    ("edit_external_contact", "wecom_contact_edited"),
    ("del_external_contact", "wecom_contact_deleted"),
    ("del_follow_user", "wecom_contact_lost"),
    ("transfer_fail", "wecom_transfer_failed"),
]


@pytest.mark.parametrize(("change", "event"), CONTACT_CASES)
def test_contact_events(client: Any, configured: Settings, change: str, event: str) -> None:
    response = post(client, contact_event(change, corp=CORP_ID, state="moments_poster"))
    assert response.status_code == 200, response.text
    assert response.text == ""
    [row] = stored_events(configured)
    assert (row["event"], row["user_id"], row["channel"]) == (event, "wmEXT001", "moments")
    assert row["ts"].timestamp() == 1764979200
    props = json.loads(row["properties"])
    assert props["staff_userid"] == "zhangsan" and props["corp_id"] == CORP_ID
    assert props["state"] == "moments_poster" and props["change_type"] == change
    assert "welcome_code" not in props and "WelcomeCode" not in props


def test_group_events(client: Any, configured: Settings) -> None:
    joined = (
        "<UpdateDetail><![CDATA[add_member]]></UpdateDetail><JoinScene>3</JoinScene><MemChangeCnt>2</MemChangeCnt>"
        "<MemChangeList><Item>wmA</Item><Item>wmB</Item></MemChangeList>"
    )
    left = (
        "<UpdateDetail><![CDATA[del_member]]></UpdateDetail><QuitScene>1</QuitScene><MemChangeCnt>1</MemChangeCnt>"
        "<MemChangeList><Item>wmA</Item></MemChangeList>"
    )
    renamed = "<UpdateDetail><![CDATA[change_name]]></UpdateDetail>"
    messages = [
        chat_event("create", corp=CORP_ID, when=1),
        chat_event("update", corp=CORP_ID, extra=joined, when=2),
        chat_event("update", corp=CORP_ID, extra=left, when=3),
        chat_event("update", corp=CORP_ID, extra=renamed, when=4),
        chat_event("dismiss", corp=CORP_ID, when=5),
    ]
    for message in messages:
        assert post(client, message).status_code == 200
    rows = stored_events(configured)
    assert [(r["event"], r["user_id"]) for r in rows] == [
        ("wecom_group_created", "wrCHAT01"),
        ("wecom_group_joined", "wmA"),
        ("wecom_group_joined", "wmB"),
        ("wecom_group_left", "wmA"),
        ("wecom_group_updated", "wrCHAT01"),
        ("wecom_group_dismissed", "wrCHAT01"),
    ]
    props = [json.loads(r["properties"]) for r in rows]
    assert props[1]["join_scene"] == "qr_code" and props[1]["chat_id"] == "wrCHAT01"
    assert props[3]["quit_scene"] == "removed" and props[4]["update_detail"] == "change_name"


def test_unknown_types_are_kept_under_their_own_name(client: Any, configured: Settings) -> None:
    message = (
        f"<xml><ToUserName>{CORP_ID}</ToUserName><CreateTime>7</CreateTime><MsgType>event</MsgType>"
        "<Event>change_external_tag</Event><ChangeType>create</ChangeType><Id>et1</Id><TagType>tag</TagType></xml>"
    )
    assert post(client, message).status_code == 200
    [row] = stored_events(configured)
    assert row["event"] == "wecom_create" and row["user_id"] == f"wecom:{CORP_ID}"
    props = json.loads(row["properties"])
    assert props["Id"] == "et1" and props["wecom_event"] == "change_external_tag"


def test_an_unknown_state_is_stored_without_channel_and_logged(
    client: Any, configured: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sopflow.wecom"):
        assert (
            post(client, contact_event("add_external_contact", corp=CORP_ID, state="nobody")).status_code
            == 200
        )
    [row] = stored_events(configured)
    assert row["channel"] is None and json.loads(row["properties"])["state"] == "nobody"
    assert "'nobody' is mapped to no channel" in caplog.text


def test_a_retried_callback_adds_nothing(client: Any, configured: Settings) -> None:
    message = contact_event("add_external_contact", corp=CORP_ID, state="moments_poster")
    for _attempt in range(4):  # WeCom's first try and its three retries, each freshly encrypted
        assert post(client, message).status_code == 200
    assert len(stored_events(configured)) == 1
    other = contact_event("add_external_contact", corp=CORP_ID, external="wmEXT002", state="moments_poster")
    assert post(client, other).status_code == 200
    assert len(stored_events(configured)) == 2


def refusals() -> list[tuple[str, Any]]:
    good = contact_event("add_external_contact", corp=CORP_ID)
    query, body = callback_request(good, receiver=CORP_ID)
    return [
        ("bad_signature", (dict(query, msg_signature="f" * 40), body)),
        ("bad_signature", (dict(query, nonce="other"), body)),
        ("wrong_corp_id", callback_request(good, receiver="wwSOMEONEELSE")),
        (
            "wrong_corp_id",
            callback_request(contact_event("add_external_contact", corp="wwOTHER"), receiver=CORP_ID),
        ),
        ("bad_padding", callback_request(good, receiver=CORP_ID, aes_key="b" * 43)),
        ("malformed_xml", (query, body[:-20])),
        ("malformed_xml", (query, b"<xml><ToUserName>x</ToUserName></xml>")),
        ("malformed_xml", callback_request("<xml><ChangeType>add", receiver=CORP_ID)),
        (
            "malformed_xml",
            callback_request(
                '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml>&b;</xml>',
                receiver=CORP_ID,
            ),
        ),
    ]


@pytest.mark.parametrize(("reason", "request_parts"), refusals())
def test_refused_callbacks_write_nothing(
    client: Any, configured: Settings, caplog: pytest.LogCaptureFixture, reason: str, request_parts: Any
) -> None:
    query, body = request_parts
    with caplog.at_level(logging.WARNING, logger="sopflow.wecom"):
        response = client.post(URL, params=query, content=body)
    assert response.status_code in (400, 403), response.text
    assert response.json()["error"]["code"] == "wecom_callback_refused"
    assert f"WeCom callback refused ({reason})" in caplog.text
    assert stored_events(configured) == []
    # The server keeps serving: a genuine callback right after is stored.
    assert post(client, contact_event("add_external_contact", corp=CORP_ID)).status_code == 200
    assert len(stored_events(configured)) == 1


def test_an_unconfigured_server_refuses_callbacks(tmp_path: Any, database_url: str) -> None:
    import warnings

    from sopflow.settings import load_settings
    from sopflow.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    settings = load_settings(environ={}, home=tmp_path / "bare", database_url=database_url)
    with TestClient(create_app(settings)) as client:
        response = post(client, contact_event("add_external_contact", corp=CORP_ID))
    assert response.status_code == 404
    assert "sopflow wecom configure" in response.json()["error"]["message"]
    assert stored_events(settings) == []


def test_an_oversized_body_is_refused_unread(client: Any, configured: Settings) -> None:
    response = client.post(URL, params={"msg_signature": "x"}, content=b"<xml>" + b" " * 300_000 + b"</xml>")
    assert response.status_code == 413 and response.json()["error"]["code"] == "wecom_callback_refused"
    assert stored_events(configured) == []


def test_odd_group_fields_do_not_break_the_receiver(client: Any, configured: Settings) -> None:
    extra = "<UpdateDetail>add_member</UpdateDetail><MemChangeCnt>many</MemChangeCnt><JoinScene>9</JoinScene>"
    extra += "<MemChangeList><Item>wmZ</Item></MemChangeList>"
    assert post(client, chat_event("update", corp=CORP_ID, extra=extra)).status_code == 200
    [row] = stored_events(configured)
    props = json.loads(row["properties"])
    assert row["event"] == "wecom_group_joined" and props["join_scene"] == "9"
    assert "member_change_count" not in props
