"""A small campaign for the status, calendar and per-step tests: New York time (DST ends 2026-11-01),
four steps (one ``after:``), two owners, a script with a variant, a material and a checklist."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from tests.campaign.runs import add_staff, add_version

from sopflow.campaign.start import start_campaign
from sopflow.store.runs import Campaign

NEW_YORK = ZoneInfo("America/New_York")
CREATED = datetime(2026, 10, 29, 12, 0, tzinfo=UTC)
PLAYBOOK = """\
meta: {id: tiny_run, name: 小活动, version: 1, owner: 运营, timezone: America/New_York, currency: CNY}
brief: {background: 背景, purpose: 宗旨, goals: [目标]}
team: {roles: [{id: ops, name: 运营}, {id: sales, name: 销售}]}
channels: [{id: c, name: 社群, kind: community, base_users: 100}]
funnel:
  window: 3d
  stages:
    - {id: join, name: 入群, event: join, aarrr: acquisition}
    - {id: attend, name: 到课, event: attend, aarrr: activation, expected_rate: 0.5}
    - {id: pay, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.1, value: 99}
materials:
  - {id: poster, name: 海报, kind: poster, uri: "https://example.com/p.png"}
scripts:
  - id: invite
    name: 邀请
    text: "{{campaign_name}}：今晚见，{{nickname}}"
    variants:
      - {id: b, text: "B 版：今晚见", weight: 1}
variables: {}
timeline:
  span: {start: "D0 00:00", end: "D+6 23:59"}
  phases:
    - id: p
      name: 执行
      steps:
        - {id: notice, name: 发通知, at: "D0 10:00", owner: ops, channel: community_group, action: 群发通知,
           script: invite, materials: [poster], checklist: [检查海报, 置顶], deadline: 2h, stage: attend}
        - {id: follow, name: 跟进, after: "notice + 1h", owner: sales, channel: private_chat,
           action: 私聊跟进, deadline: 1h}
        - {id: remind, name: 开课提醒, at: "D+3 10:00", owner: ops, channel: community_group,
           action: 提醒到课, audience: {not_reached: attend}}
        - {id: offer, name: 开售, at: "D+5 20:00", owner: sales, channel: community_group,
           action: 公布优惠, deadline: 3h}
"""


def tiny_campaign(session: Session, *, emails: bool = False) -> Campaign:
    """Started 2026-10-30 09:00 New York: notice Oct 30 10:00 EDT, remind Nov 2 10:00 EST, offer Nov 4
    20:00 EST; follow waits for notice. Owners: 王芳 (ops, manager 李雷) and 张伟 (sales)."""
    version = add_version(session, PLAYBOOK)
    lead = add_staff(session, "李雷", "lead")
    ops = add_staff(session, "王芳", "ops", manager=lead)
    add_staff(session, "张伟", "sales")
    if emails:
        lead.email = "lilei@example.com"
        ops.email = "wangfang@example.com"
    starts = datetime(2026, 10, 30, 9, 0, tzinfo=NEW_YORK).astimezone(UTC)
    campaign = start_campaign(session=session, version=version, starts_at=starts, now=CREATED)
    session.flush()
    return campaign
