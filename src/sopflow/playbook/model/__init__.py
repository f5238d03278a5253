"""The playbook model: one pydantic model per part of the SOP document."""

from sopflow.playbook.model.audience import Criterion, Persona
from sopflow.playbook.model.base import Condition
from sopflow.playbook.model.channels import Channel, Manpower
from sopflow.playbook.model.content import CostItem, Material, Script, Variant
from sopflow.playbook.model.funnel import AARRR_STAGES, Funnel, Referral, Stage
from sopflow.playbook.model.meta import RESEARCH_ITEMS, Brief, Meta, PersonaKit, Research, Role, Team
from sopflow.playbook.model.playbook import Playbook
from sopflow.playbook.model.policies import EstimateSettings, FrequencyCap, Policies, QuietHours
from sopflow.playbook.model.targets import MetricName, Target, parse_metric
from sopflow.playbook.model.timeline import Audience, ExitCondition, Phase, Span, Step, Timeline

__all__ = [
    "AARRR_STAGES",
    "RESEARCH_ITEMS",
    "Audience",
    "Brief",
    "Channel",
    "Condition",
    "CostItem",
    "Criterion",
    "EstimateSettings",
    "ExitCondition",
    "FrequencyCap",
    "Funnel",
    "Manpower",
    "Material",
    "Meta",
    "MetricName",
    "Persona",
    "PersonaKit",
    "Phase",
    "Playbook",
    "Policies",
    "QuietHours",
    "Referral",
    "Research",
    "Role",
    "Script",
    "Span",
    "Stage",
    "Step",
    "Target",
    "Team",
    "Timeline",
    "Variant",
    "parse_metric",
]
