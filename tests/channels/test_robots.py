"""The three group-robot adapters against local servers that implement each robot's webhook."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.channels.robots import RobotServer

from sopflow.channels.base import Attachment, DeliveryError, EndpointConfig, Message
from sopflow.channels.dingtalk_robot import DingtalkRobotAdapter
from sopflow.channels.feishu_bot import FeishuBotAdapter
from sopflow.channels.registry import make_adapter
from sopflow.channels.wecom_robot import WecomRobotAdapter

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
SECRET = "SECb9c2a8e4f0d6a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@pytest.fixture
def robots() -> Iterator[RobotServer]:
    server = RobotServer()
    yield server
    server.stop()


def _msg(**kw: object) -> Message:
    base: dict[str, object] = {
        "title": "第 1 天 20:00 开营提醒",
        "text": "大家好，今晚 8 点开营！",
        "delivery_id": "d-1",
    }
    base.update(kw)
    return Message(**base)  # type: ignore[arg-type]


def _wecom(robots: RobotServer, key: str = KEY) -> WecomRobotAdapter:
    adapter = make_adapter(
        EndpointConfig(name="ops", kind="wecom_robot", url=robots.wecom_url(key)), timeout=5
    )
    assert isinstance(adapter, WecomRobotAdapter)
    return adapter


# ---- WeCom --------------------------------------------------------------------------------------------


def test_wecom_text_markdown_and_news(robots: RobotServer) -> None:
    adapter = _wecom(robots)
    assert "errcode 0" in adapter.send(_msg(mentions=("zhangsan", "13800001111", "@all"))).response
    adapter.send(_msg(format="markdown", markdown="**开营** 今晚 8 点"))
    adapter.send(_msg(format="news", link="https://example.com/camp"))
    text, markdown, news = robots.bodies("wecom")
    assert text == {
        "msgtype": "text",
        "text": {
            "content": "大家好，今晚 8 点开营！",
            "mentioned_list": ["zhangsan", "@all"],
            "mentioned_mobile_list": ["13800001111"],
        },
    }
    assert markdown == {"msgtype": "markdown", "markdown": {"content": "**开营** 今晚 8 点"}}
    assert news["news"]["articles"] == [
        {
            "title": "第 1 天 20:00 开营提醒",
            "description": "大家好，今晚 8 点开营！",
            "url": "https://example.com/camp",
        }
    ]


def test_wecom_image_is_base64_with_the_md5_of_the_bytes(robots: RobotServer, tmp_path: Path) -> None:
    poster = tmp_path / "poster.png"
    poster.write_bytes(PNG)
    _wecom(robots).send(_msg(format="image", attachments=(Attachment("海报", "poster", str(poster)),)))
    (body,) = robots.bodies("wecom")
    assert base64.b64decode(body["image"]["base64"]) == PNG
    assert body["image"]["md5"] == hashlib.md5(PNG).hexdigest()


def test_wecom_image_must_be_a_local_jpg_or_png(robots: RobotServer, tmp_path: Path) -> None:
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a" + b"\x00" * 20)
    adapter = _wecom(robots)
    with pytest.raises(DeliveryError, match="JPG or PNG") as info:
        adapter.send(_msg(format="image", attachments=(Attachment("动图", "image", str(gif)),)))
    assert info.value.retryable is False
    with pytest.raises(DeliveryError, match="cannot read"):
        adapter.send(
            _msg(format="image", attachments=(Attachment("海报", "poster", str(tmp_path / "none.png")),))
        )
    assert robots.bodies("wecom") == []


def test_wecom_file_is_uploaded_then_sent_by_media_id(robots: RobotServer, tmp_path: Path) -> None:
    doc = tmp_path / "课程表.pdf"
    doc.write_bytes(b"%PDF-1.4 course schedule")
    _wecom(robots).send(_msg(format="file", attachments=(Attachment("课程表.pdf", "file", str(doc)),)))
    (body,) = robots.bodies("wecom")
    name, data = robots.state.uploads[body["file"]["media_id"]]
    assert (name, data) == ("课程表.pdf", b"%PDF-1.4 course schedule")


def test_wecom_errcodes_map_to_retryable_or_final_without_the_key(robots: RobotServer) -> None:
    wrong = EndpointConfig(
        name="x", kind="wecom_robot", url=f"{robots.base}/cgi-bin/webhook/send?key={KEY}-gone"
    )
    with pytest.raises(DeliveryError) as info:
        make_adapter(wrong).send(_msg())
    assert info.value.retryable is False
    assert "errcode 93000" in info.value.message and KEY not in info.value.message

    adapter = _wecom(robots)
    for i in range(20):
        adapter.send(_msg(text=f"第 {i} 条"))
    with pytest.raises(DeliveryError) as limited:
        adapter.send(_msg(text="第 21 条"))
    assert limited.value.retryable is True and limited.value.retry_after == 60
    assert "45009" in limited.value.message
    assert len(robots.bodies("wecom")) == 20


def test_wecom_too_long_text_is_refused_before_sending(robots: RobotServer) -> None:
    with pytest.raises(DeliveryError, match="2048") as info:
        _wecom(robots).send(_msg(text="字" * 700))
    assert info.value.retryable is False and robots.bodies("wecom") == []


def test_unreachable_robot_is_retryable_and_masks_the_key() -> None:
    config = EndpointConfig(
        name="x", kind="wecom_robot", url=f"http://127.0.0.1:9/cgi-bin/webhook/send?key={KEY}"
    )
    with pytest.raises(DeliveryError) as info:
        make_adapter(config, timeout=2).send(_msg())
    assert info.value.retryable is True
    assert KEY not in info.value.message and "key=69…aa" in info.value.message


# ---- Feishu -------------------------------------------------------------------------------------------


def _feishu(
    robots: RobotServer, secret: str | None, sign_with: str | None = None, clock: float | None = None
) -> FeishuBotAdapter:
    url = robots.feishu_url("b7c3-token-42", secret)
    config = EndpointConfig(
        name="fs", kind="feishu_bot", url=url, secret=sign_with if sign_with is not None else secret
    )
    if clock is not None:
        return FeishuBotAdapter(config, timeout=5, clock=lambda: clock)
    return FeishuBotAdapter(config, timeout=5)


def test_feishu_signed_text_post_and_card(robots: RobotServer) -> None:
    adapter = _feishu(robots, SECRET)
    adapter.send(_msg(mentions=("ou_7d8a6e6df7621556ce0d21922b676706",)))
    adapter.send(_msg(format="news", link="https://example.com/camp"))
    adapter.send(_msg(format="card", markdown="**开营** 今晚", link="https://example.com/camp"))
    text, post, card = robots.bodies("feishu")
    assert text["msg_type"] == "text" and text["sign"] and text["timestamp"]
    assert (
        text["content"]["text"]
        == '<at user_id="ou_7d8a6e6df7621556ce0d21922b676706"></at>大家好，今晚 8 点开营！'
    )
    zh = post["content"]["post"]["zh_cn"]
    assert zh["title"] == "第 1 天 20:00 开营提醒"
    assert [{"tag": "a", "text": "第 1 天 20:00 开营提醒", "href": "https://example.com/camp"}] in zh[
        "content"
    ]
    assert card["msg_type"] == "interactive"
    assert card["card"]["elements"][0]["text"] == {"tag": "lark_md", "content": "**开营** 今晚"}
    assert card["card"]["elements"][1]["actions"][0]["url"] == "https://example.com/camp"


def test_feishu_wrong_secret_or_stale_clock_is_19021_and_final(robots: RobotServer) -> None:
    with pytest.raises(DeliveryError) as wrong:
        _feishu(robots, SECRET, sign_with="not-the-secret").send(_msg())
    with pytest.raises(DeliveryError) as stale:
        _feishu(robots, SECRET, clock=time.time() - 3700).send(_msg())
    for info in (wrong, stale):
        assert info.value.retryable is False and "code 19021" in info.value.message
        assert SECRET not in info.value.message and "b7c3-token-42" not in info.value.message
    assert robots.bodies("feishu") == []


def test_feishu_rate_limit_answer_is_retryable(robots: RobotServer) -> None:
    adapter = _feishu(robots, None)
    for i in range(5):
        adapter.send(_msg(text=f"{i}"))
    with pytest.raises(DeliveryError) as info:
        adapter.send(_msg(text="6"))
    assert info.value.retryable is True and "11232" in info.value.message
    assert (
        adapter.rate_limit is not None and adapter.rate_limit.count / adapter.rate_limit.seconds * 60 <= 100
    )


def test_feishu_unknown_token(robots: RobotServer) -> None:
    config = EndpointConfig(
        name="fs", kind="feishu_bot", url=f"{robots.base}/open-apis/bot/v2/hook/unknown-token-1"
    )
    with pytest.raises(DeliveryError, match="19001") as info:
        make_adapter(config).send(_msg())
    assert info.value.retryable is False and "unknown-token-1" not in info.value.message


# ---- DingTalk -----------------------------------------------------------------------------------------


def _dingtalk(robots: RobotServer, secret: str | None, sign_with: str | None = None) -> DingtalkRobotAdapter:
    url = robots.dingtalk_url("e5a1dd2c6b7f48aa", secret)
    config = EndpointConfig(name="dd", kind="dingtalk_robot", url=url, secret=sign_with or secret)
    adapter = make_adapter(config, timeout=5)
    assert isinstance(adapter, DingtalkRobotAdapter)
    return adapter


def test_dingtalk_signed_text_markdown_and_action_card(robots: RobotServer) -> None:
    adapter = _dingtalk(robots, SECRET)
    adapter.send(_msg(mentions=("13800001111",)))
    adapter.send(_msg(format="markdown", markdown="### 开营\n今晚 8 点"))
    adapter.send(_msg(format="card", markdown="### 开营", link="https://example.com/camp"))
    text, markdown, card = robots.bodies("dingtalk")
    assert text["text"]["content"].endswith("@13800001111")
    assert text["at"] == {"atMobiles": ["13800001111"], "atUserIds": [], "isAtAll": False}
    assert markdown["markdown"] == {"title": "第 1 天 20:00 开营提醒", "text": "### 开营\n今晚 8 点"}
    assert card["actionCard"]["singleURL"] == "https://example.com/camp"


def test_dingtalk_errors(robots: RobotServer) -> None:
    with pytest.raises(DeliveryError) as wrong:
        _dingtalk(robots, SECRET, sign_with="SECwrong0000000000").send(_msg())
    assert wrong.value.retryable is False and "310000" in wrong.value.message
    assert SECRET not in wrong.value.message and "e5a1dd2c6b7f48aa" not in wrong.value.message
    unknown = EndpointConfig(
        name="dd", kind="dingtalk_robot", url=f"{robots.base}/robot/send?access_token=nope-nope-1"
    )
    with pytest.raises(DeliveryError, match="300001"):
        make_adapter(unknown).send(_msg())
    adapter = _dingtalk(robots, None)
    for i in range(20):
        adapter.send(_msg(text=str(i)))
    with pytest.raises(DeliveryError) as limited:
        adapter.send(_msg(text="21"))
    assert limited.value.retryable is True and "410100" in limited.value.message
    assert limited.value.retry_after == 600


def test_the_key_is_not_in_the_logs(robots: RobotServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _wecom(robots).send(_msg())
    _dingtalk(robots, SECRET).send(_msg())
    assert "HTTP Request: POST" in caplog.text  # httpx did log the requests…
    assert KEY not in caplog.text and SECRET not in caplog.text and "e5a1dd2c6b7f48aa" not in caplog.text
