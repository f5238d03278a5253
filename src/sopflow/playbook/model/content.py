"""What the team sends: scripts (话术) with ``{{variables}}`` and variants, materials (素材), and costs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sopflow.playbook.model.base import Base, Id, Money, Text


class Variant(Base):
    """An alternative text of a script, for A/B tests of 话术."""

    id: Id
    text: Text
    weight: float = Field(default=1.0, gt=0)


class Script(Base):
    id: Id
    name: Text
    text: Text
    variants: list[Variant] = Field(default_factory=list)
    notes: str = ""


MaterialKind = Literal["poster", "image", "link", "file", "video", "mini_program", "qrcode", "document"]


class Material(Base):
    id: Id
    name: Text
    kind: MaterialKind
    uri: str = ""
    notes: str = ""
    ready: bool = False


class CostItem(Base):
    """A cost outside channels: once per campaign, or per person reaching ``stage`` (a gift, a coupon)."""

    id: Id
    name: Text
    amount: Money
    per: Literal["campaign", "user"] = "campaign"
    stage: Id | None = None
