"""The WeCom API client and the wecom_app adapter against the local WeCom server (token expiry included)."""

from __future__ import annotations

import pytest

from sopflow.channels.base import Attachment, DeliveryError, EndpointConfig, Message
from sopflow.channels.registry import make_adapter
from sopflow.channels.wecom_app import WecomAppAdapter
from sopflow.wecom.client import TokenCache, WecomApiError, WecomClient

from .wecom_server import CORP_ID, SECRET, FakeWecom


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(fake: FakeWecom, tokens: TokenCache, clock: Clock | None = None, **kw: object) -> WecomClient:
    options: dict = {"corp_id": CORP_ID, "secret": SECRET, "api_base": fake.base, "tokens": tokens, **kw}
    if clock is not None:
        options["clock"] = clock
    return WecomClient(**options)


def test_the_token_is_cached_until_shortly_before_it_expires(
    fake_wecom: FakeWecom, tokens: TokenCache
) -> None:
    clock = Clock()
    with make_client(fake_wecom, tokens, clock) as client:
        assert client.access_token() == "tok-1"
        clock.now += 7200 - 301  # still more than the 5-minute margin left
        assert client.access_token() == "tok-1"
        clock.now += 2
        assert client.access_token() == "tok-2"
    assert fake_wecom.gettoken_calls == 2
    # Another client of the same corp and secret shares the cached token.
    with make_client(fake_wecom, tokens, clock) as other:
        assert other.access_token() == "tok-2"
    assert fake_wecom.gettoken_calls == 2


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_errcodes_42001_and_40014_refresh_the_token_and_retry(
    fake_wecom: FakeWecom, tokens: TokenCache, how: str
) -> None:
    with make_client(fake_wecom, tokens) as client:
        way = client.add_contact_way(state="s1", users=["zhangsan"])
        (fake_wecom.expire_all if how == "expired" else fake_wecom.revoke_all)()
        client.del_contact_way(way.config_id)
    assert fake_wecom.gettoken_calls == 2
    assert fake_wecom.contact_ways == {}


def test_contact_way_bodies(fake_wecom: FakeWecom, tokens: TokenCache) -> None:
    with make_client(fake_wecom, tokens) as client:
        one = client.add_contact_way(state="moments-1", users=["zhangsan"])
        two = client.add_contact_way(state="moments-2", users=["zhangsan", "lisi"], skip_verify=False)
        assert one.qr_code.endswith(f"{one.config_id}.png")
        with pytest.raises(WecomApiError) as caught:
            client.add_contact_way(state="x", users=["nobody"])
        assert caught.value.errcode == 40098 and not caught.value.retryable
        with pytest.raises(WecomApiError) as caught:
            client.del_contact_way("cfg-unknown")
        assert caught.value.errcode == 41044
    assert fake_wecom.contact_ways[one.config_id] == {
        "type": 1,
        "scene": 2,
        "state": "moments-1",
        "user": ["zhangsan"],
        "skip_verify": True,
    }
    assert fake_wecom.contact_ways[two.config_id]["type"] == 2
    assert fake_wecom.contact_ways[two.config_id]["skip_verify"] is False


def test_a_wrong_secret_is_a_clear_error_that_does_not_show_it(
    fake_wecom: FakeWecom, tokens: TokenCache
) -> None:
    with (
        make_client(fake_wecom, tokens, secret="wrong-secret-value") as client,
        pytest.raises(WecomApiError) as caught,
    ):
        client.access_token()
    assert caught.value.errcode == 40001 and "wrong-secret-value" not in caught.value.message


def test_busy_and_unreachable_are_retryable(fake_wecom: FakeWecom, tokens: TokenCache) -> None:
    fake_wecom.busy = 1
    with make_client(fake_wecom, tokens) as client:
        with pytest.raises(WecomApiError) as caught:
            client.send_message(agent_id=1, touser="zhangsan", msgtype="text", content={"content": "hi"})
        assert caught.value.errcode == -1 and caught.value.retryable
    with (
        WecomClient(
            corp_id=CORP_ID, secret=SECRET, api_base="http://127.0.0.1:9/cgi-bin", tokens=tokens
        ) as dead,
        pytest.raises(WecomApiError) as caught,
    ):
        dead.access_token()
    assert caught.value.retryable and SECRET not in caught.value.message


def endpoint(fake: FakeWecom, **changes: object) -> EndpointConfig:
    fields: dict = {
        "name": "staff-app",
        "kind": "wecom_app",
        "url": f"{fake.base}?corpid={CORP_ID}&agentid=1000002",
        "secret": SECRET,
    }
    fields.update(changes)
    return EndpointConfig(**fields)


def test_the_adapter_sends_the_script_to_the_task_owner(fake_wecom: FakeWecom) -> None:
    adapter = make_adapter(endpoint(fake_wecom))
    assert isinstance(adapter, WecomAppAdapter)
    script = "今晚 8 点直播，点这里报名：{link}\n到时见！"
    message = Message(
        title="发朋友圈",
        text=script,
        recipient="zhangsan",
        link="https://example.com/live",
        attachments=(Attachment(name="海报", kind="poster", uri="https://example.com/p.png"),),
    )
    result = adapter.send(message)
    assert result.response.startswith("errcode 0")
    fake_wecom.expire_all()  # the next send refreshes the token by itself
    adapter.send(
        Message(title="t", text="**粗体**", markdown="**粗体**", format="markdown", recipient="lisi")
    )
    adapter.send(
        Message(title="报名", text="点击报名", format="card", link="https://e.com/x", recipient="lisi")
    )
    first, second, third = fake_wecom.messages
    assert first["msgtype"] == "text" and first["touser"] == "zhangsan" and first["agentid"] == 1000002
    assert first["text"]["content"] == f"{script}\nhttps://example.com/live\n海报: https://example.com/p.png"
    assert second == {
        "touser": "lisi",
        "msgtype": "markdown",
        "agentid": 1000002,
        "markdown": {"content": "**粗体**"},
    }
    assert third["msgtype"] == "textcard" and third["textcard"]["url"] == "https://e.com/x"
    assert fake_wecom.gettoken_calls == 2


def test_adapter_refusals(fake_wecom: FakeWecom) -> None:
    adapter = make_adapter(endpoint(fake_wecom))
    with pytest.raises(DeliveryError) as caught:
        adapter.send(Message(title="t", text="hi", recipient=""))
    assert not caught.value.retryable and "wecom_userid" in caught.value.message
    with pytest.raises(DeliveryError) as caught:
        adapter.send(Message(title="t", text="hi", recipient="stranger"))
    assert not caught.value.retryable and "stranger" in caught.value.message
    with pytest.raises(DeliveryError) as caught:
        adapter.send(Message(title="t", text="长" * 700, recipient="zhangsan"))
    assert not caught.value.retryable and "2048" in caught.value.message
    fake_wecom.busy = 1
    with pytest.raises(DeliveryError) as caught:
        adapter.send(Message(title="t", text="hi", recipient="zhangsan"))
    assert caught.value.retryable
    with pytest.raises(DeliveryError) as caught:
        make_adapter(endpoint(fake_wecom, url=fake_wecom.base)).send(
            Message(title="t", text="x", recipient="lisi")
        )
    assert "agentid" in caught.value.message and not caught.value.retryable


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("nope", "s"),
        ("https://qyapi.weixin.qq.com/cgi-bin?corpid=ww1", "s"),
        ("https://qyapi.weixin.qq.com/cgi-bin?corpid=ww1&agentid=abc", "s"),
        ("https://qyapi.weixin.qq.com/cgi-bin?corpid=ww1&agentid=1000002", None),
    ],
)
def test_endpoint_checks_name_the_field(url: str, secret: str | None) -> None:
    from sopflow.channels.wecom_app import check_wecom_app_endpoint
    from sopflow.errors import InvalidInput

    with pytest.raises(InvalidInput, match="--url"):
        check_wecom_app_endpoint(url, secret, {})
    check_wecom_app_endpoint("https://qyapi.weixin.qq.com/cgi-bin?corpid=ww1&agentid=1000002", "s", {})
