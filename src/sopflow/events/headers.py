"""Which source column (or JSON key) feeds which canonical field.

Headers are matched after lower-casing and dropping spaces, ``_``, ``-`` and ``$``, so ``User ID``,
``user_id`` and ``userId`` all match ``userid``. ``--map 源列=target`` wins over the built-in map;
``--map 源列=-`` drops a column. Columns that map to nothing are kept as keys of ``properties``.

Built-in map (documented in the README; extend it here, never in callers):

==============  ==========================================================================
target          headers
==============  ==========================================================================
event_id        event_id, uuid, insert_id, 事件ID, 事件编号, 流水号
event           event, event_name, action, 事件, 事件名, 事件名称, 行为, 动作, 行为类型
user_id         user_id, distinct_id, userid, uid, user, 用户ID, 用户, 用户编号, 客户ID, 客户, 会员ID, 学员ID
ts              ts, timestamp, time, datetime, event_time, created_at, 时间, 发生时间, 事件时间, 行为时间,
                日期时间, 创建时间, 下单时间, 支付时间
channel         channel, source, utm_source, 渠道, 来源, 来源渠道, 渠道来源
campaign        campaign, utm_campaign, 活动, 活动ID, 活动名称
step            step, 步骤, 节点, 时间节点
variant         variant, ab_variant, 版本, 实验组, 话术版本
inviter_id      inviter_id, inviter, referrer_id, invited_by, 邀请人, 邀请人ID, 推荐人
revenue         revenue, amount, 金额, 实付金额, 支付金额, 订单金额, 收入
currency        currency, 币种, 货币
properties      properties, 属性
anon_id         anon_id, $anon_distinct_id, anonymous_id, device_id, 匿名ID, 设备ID
==============  ==========================================================================

``anon_id`` is not stored as a column: on an identify row (``event`` = ``identify`` / ``$identify``)
it becomes ``properties.$anon_distinct_id``, which links that anonymous id to ``user_id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sopflow.errors import InvalidInput
from sopflow.events.schema import COLUMNS
from sopflow.i18n import _

ANON_ID = "anon_id"
DROP = "-"
TARGETS = (*COLUMNS, ANON_ID)

_BUILTIN: dict[str, tuple[str, ...]] = {
    "event_id": ("event_id", "uuid", "insert_id", "事件ID", "事件编号", "流水号"),
    "event": ("event", "event_name", "action", "事件", "事件名", "事件名称", "行为", "动作", "行为类型"),
    "user_id": (
        "user_id",
        "distinct_id",
        "uid",
        "user",
        "用户ID",
        "用户",
        "用户编号",
        "客户ID",
        "客户",
        "会员ID",
        "学员ID",
    ),
    "ts": (
        "ts",
        "timestamp",
        "time",
        "datetime",
        "event_time",
        "created_at",
        "时间",
        "发生时间",
        "事件时间",
        "行为时间",
        "日期时间",
        "创建时间",
        "下单时间",
        "支付时间",
    ),
    "channel": ("channel", "source", "utm_source", "渠道", "来源", "来源渠道", "渠道来源"),
    "campaign": ("campaign", "utm_campaign", "活动", "活动ID", "活动名称"),
    "step": ("step", "步骤", "节点", "时间节点"),
    "variant": ("variant", "ab_variant", "版本", "实验组", "话术版本"),
    "inviter_id": ("inviter_id", "inviter", "referrer_id", "invited_by", "邀请人", "邀请人ID", "推荐人"),
    "revenue": ("revenue", "amount", "金额", "实付金额", "支付金额", "订单金额", "收入"),
    "currency": ("currency", "币种", "货币"),
    "properties": ("properties", "属性"),
    ANON_ID: ("anon_id", "$anon_distinct_id", "anonymous_id", "device_id", "匿名ID", "设备ID"),
}

_FOLD = re.compile(r"[\s_\-$\ufeff]+")


def fold(name: str) -> str:
    """The matching form of a header: lower case, no spaces, ``_``, ``-``, ``$`` or BOM."""
    return _FOLD.sub("", name).lower()


BUILTIN_HEADERS: dict[str, str] = {
    fold(alias): target for target, aliases in _BUILTIN.items() for alias in aliases
}


def parse_map_options(options: Iterable[str]) -> dict[str, str]:
    """``["用户手机号=user_id", "备注=-"]`` → ``{"用户手机号": "user_id", "备注": "-"}``."""
    mapping: dict[str, str] = {}
    for option in options:
        source, sep, target = option.partition("=")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise InvalidInput(
                _("--map {option!r}: write it as SOURCE=TARGET, e.g. 用户手机号=user_id", option=option)
            )
        if target != DROP and target not in TARGETS:
            raise InvalidInput(
                _(
                    "--map {option!r}: unknown target {target!r}; choose one of {choices} or -",
                    option=option,
                    target=target,
                    choices=", ".join(TARGETS),
                )
            )
        mapping[source] = target
    return mapping


def resolve_columns(headers: list[str], user_map: Mapping[str, str], *, source: str) -> dict[str, str]:
    """Map each header to a target field, a property key, or :data:`DROP`.

    Raises :class:`InvalidInput` naming ``source`` when two columns claim one field, or when a ``--map``
    source column is missing (a typo there would silently import nothing useful).
    """
    folded_user = {fold(k): v for k, v in user_map.items()}
    present = {fold(h) for h in headers}
    for key in user_map:
        if fold(key) not in present:
            raise InvalidInput(
                _(
                    "{source}: --map names column {column!r}, which is not in the header",
                    source=source,
                    column=key,
                )
            )
    result = {h: folded_user.get(fold(h)) or BUILTIN_HEADERS.get(fold(h)) or h.strip() for h in headers}
    by_target: dict[str, list[str]] = {}
    for header, target in result.items():
        if target in TARGETS:
            by_target.setdefault(target, []).append(header)
    for target, claimants in by_target.items():
        explicit = [h for h in claimants if fold(h) in folded_user]
        if len(claimants) > 1 and len(explicit) != 1:
            raise InvalidInput(
                _(
                    "{source}: columns {first!r} and {second!r} both mean {target}; "
                    "choose one with --map COLUMN={target} and drop the other with --map COLUMN=-",
                    source=source,
                    first=claimants[0],
                    second=claimants[1],
                    target=target,
                )
            )
        for header in claimants:
            if header not in explicit and explicit:
                result[header] = header.strip()  # an explicit --map beats a built-in alias: keep as property
    return result


def unique_headers(headers: Iterable[str]) -> list[str]:
    """Name blank headers ``column N`` and number repeats (``备注``, ``备注 2``) so every column is addressable."""
    seen: dict[str, int] = {}
    out = []
    for index, raw in enumerate(headers, start=1):
        name = raw.strip().lstrip("\ufeff").strip() or f"column {index}"
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name} {count}")
    return out
