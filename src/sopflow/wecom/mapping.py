"""WeCom callback events → canonical events (the rows HTTP ingest stores).

=========================================  =============================  ==========================
WeCom ``Event`` / ``ChangeType``           canonical ``event``            ``user_id``
=========================================  =============================  ==========================
change_external_contact/add_external_…     ``wecom_contact_added``        ExternalUserID
…/add_half_external_contact                ``wecom_contact_added_half``   ExternalUserID
…/edit_external_contact                    ``wecom_contact_edited``       ExternalUserID
…/del_external_contact (staff deleted)     ``wecom_contact_deleted``      ExternalUserID
…/del_follow_user (customer deleted)       ``wecom_contact_lost``         ExternalUserID
…/transfer_fail                            ``wecom_transfer_failed``      ExternalUserID
change_external_chat/create                ``wecom_group_created``        ChatId
…/update add_member (one per member)       ``wecom_group_joined``         the member's id
…/update del_member (one per member)       ``wecom_group_left``           the member's id
…/update (owner, name, notice)             ``wecom_group_updated``        ChatId
…/dismiss                                  ``wecom_group_dismissed``      ChatId
anything else                              ``wecom_<type>``               ExternalUserID, else …
=========================================  =============================  ==========================

``channel`` is the sopflow channel of the contact way's ``State`` (``sopflow wecom states``); an unknown state
is kept in ``properties.state`` with no channel, and reported. ``properties`` always hold ``corp_id`` and the
staff member's ``staff_userid`` where WeCom names one. ``event_id`` is derived from the corp id and the
decrypted message, so a callback WeCom retries (the same message, freshly encrypted) is stored once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sopflow.wecom.xmlsafe import CallbackXml

CONTACT_EVENTS = {
    "add_external_contact": "wecom_contact_added",
    "add_half_external_contact": "wecom_contact_added_half",
    "edit_external_contact": "wecom_contact_edited",
    "del_external_contact": "wecom_contact_deleted",
    "del_follow_user": "wecom_contact_lost",
    "transfer_fail": "wecom_transfer_failed",
}
CHAT_EVENTS = {"create": "wecom_group_created", "dismiss": "wecom_group_dismissed"}
JOIN_SCENES = {"0": "invited", "3": "qr_code"}
QUIT_SCENES = {"0": "left", "1": "removed"}
_TYPE_CHARS = re.compile(r"[^a-z0-9_]+")
# Fields WeCom puts in every message: not repeated in the properties of an unknown event.
_ENVELOPE = {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType", "AgentID"}


@dataclass
class Mapped:
    """The canonical events of one callback, and the states it named that no channel is mapped to."""

    events: list[dict[str, Any]] = field(default_factory=list)
    unknown_states: list[str] = field(default_factory=list)


def callback_key(corp_id: str, message: bytes) -> str:
    """The stable id of one callback message (the same for each of WeCom's retries)."""
    return hashlib.sha256(corp_id.encode("utf-8") + b"\n" + message).hexdigest()[:32]


def _type_name(value: str) -> str:
    return "wecom_" + (_TYPE_CHARS.sub("_", value.strip().lower()).strip("_")[:60] or "unknown")


def _timestamp(xml: CallbackXml, received_at: float) -> float:
    try:
        return float(int(xml.get("CreateTime")))
    except ValueError:
        return received_at


def map_callback(
    xml: CallbackXml,
    *,
    corp_id: str,
    states: Mapping[str, str],
    key: str,
    received_at: float,
) -> Mapped:
    """The canonical events of a decrypted callback message ``xml`` (see the module docs)."""
    out = Mapped()
    kind, change = xml.get("Event") or xml.get("MsgType"), xml.get("ChangeType")
    base: dict[str, Any] = {"ts": _timestamp(xml, received_at)}
    props: dict[str, Any] = {"corp_id": corp_id, "wecom_event": kind}
    if change:
        props["change_type"] = change
    if xml.get("UserID"):
        props["staff_userid"] = xml.get("UserID")

    def add(event: str, user: str, extra: Mapping[str, Any], suffix: str = "") -> None:
        row = {**base, "event": event, "user_id": user, "properties": {**props, **extra}}
        row["event_id"] = f"wecom-{key}{suffix}"
        out.events.append(row)

    external = xml.get("ExternalUserID")
    if kind == "change_external_contact" and change in CONTACT_EVENTS and external:
        extra: dict[str, Any] = {"external_userid": external}
        state = xml.get("State")
        if state:
            extra["state"] = state
            if state in states:
                base["channel"] = states[state]
            else:
                out.unknown_states.append(state)
        for name, prop in (("Source", "source"), ("FailReason", "fail_reason")):
            if xml.get(name):
                extra[prop] = xml.get(name)
        add(CONTACT_EVENTS[change], external, extra)
        return out
    chat = xml.get("ChatId")
    if kind == "change_external_chat" and chat:
        _map_chat(xml, change, chat, add)
        return out
    # Unknown (or incomplete) types are kept, under their own name, with every field WeCom sent.
    extra = {name: value for name, value in xml.fields.items() if name not in _ENVELOPE and value.strip()}
    extra.update({name: items for name, items in xml.lists.items()})
    user = external or chat or xml.get("UserID") or xml.get("FromUserName") or f"wecom:{corp_id}"
    add(_type_name(change or kind or "unknown"), user, extra)
    return out


def _map_chat(xml: CallbackXml, change: str, chat: str, add: Any) -> None:
    extra: dict[str, Any] = {"chat_id": chat}
    if change in CHAT_EVENTS:
        add(CHAT_EVENTS[change], chat, extra)
        return
    detail = xml.get("UpdateDetail")
    extra["update_detail"] = detail
    if xml.get("MemChangeCnt").isdigit():
        extra["member_change_count"] = int(xml.get("MemChangeCnt"))
    members = [m for m in xml.lists.get("MemChangeList", []) if m]
    if change == "update" and detail in ("add_member", "del_member") and members:
        if detail == "add_member":
            name, scene, labels = "wecom_group_joined", xml.get("JoinScene"), JOIN_SCENES
            extra["join_scene"] = labels.get(scene, scene)
        else:
            name, scene, labels = "wecom_group_left", xml.get("QuitScene"), QUIT_SCENES
            extra["quit_scene"] = labels.get(scene, scene)
        for index, member in enumerate(members):
            add(name, member, {**extra, "member_id": member}, suffix=f"-{index}")
        return
    add("wecom_group_updated" if change == "update" else _type_name(change or "chat"), chat, extra)
