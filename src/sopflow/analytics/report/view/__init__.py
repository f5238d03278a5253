"""From the collected report data (:mod:`sopflow.analytics.report.collect`) to what the page shows.

Reads only the collected JSON-shaped data, so the page can be rebuilt from a saved copy of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sopflow.analytics.report.format import moment
from sopflow.analytics.report.view.blocks import Page, SectionView, range_text
from sopflow.analytics.report.view.campaign import campaign_section
from sopflow.analytics.report.view.cohorts import referral_section, retention_section
from sopflow.analytics.report.view.experiments import experiments_section
from sopflow.analytics.report.view.funnel import aarrr_section, funnel_section
from sopflow.analytics.report.view.money import roi_section, targets_section
from sopflow.i18n import N_, _, current_language

Builder = Callable[[dict[str, Any], dict[str, Any]], SectionView]
BUILDERS: dict[str, Builder] = {
    "funnel": funnel_section,
    "aarrr": aarrr_section,
    "retention": retention_section,
    "referral": referral_section,
    "roi": roi_section,
    "targets": targets_section,
    "experiments": experiments_section,
    "campaign": campaign_section,
}
TITLES = {
    "funnel": N_("Funnel"),
    "aarrr": N_("AARRR"),
    "retention": N_("Retention"),
    "referral": N_("Referral (fission)"),
    "roi": N_("ROI by channel"),
    "targets": N_("Targets vs actual"),
    "experiments": N_("Experiments (script A/B tests)"),
    "campaign": N_("Campaign steps (touch → reaction → conversion)"),
}


def build_page(report: dict[str, Any]) -> Page:
    playbook = report["playbook"]
    sections = []
    for key, section in report["sections"].items():
        if key not in BUILDERS:
            continue
        if section["available"]:
            sections.append(BUILDERS[key](report, section["data"]))
        else:
            problem = _("Not available: {reason}", reason=section["problem"] or "—")
            sections.append(SectionView(key, _(TITLES[key]), "", (), problem))
    return Page(
        lang="zh-CN" if current_language() == "zh_CN" else "en",
        title=_("Campaign report: {name}", name=playbook["name"]),
        subtitle=_(
            "Playbook {id} version {version} · engine {engine} · generated {at}",
            id=playbook["id"],
            version=playbook["version"],
            engine=report["engine"],
            at=moment(report["generated_at"]),
        ),
        scope=_(
            "Range: {range}. Every count is of persons (ids merged by identity); every rate says what it "
            "divides, and every section its range.",
            range=range_text(report.get("range"), report.get("data")),
        ),
        sections=tuple(sections),
        footer=_("Made by sopflow from the event data; opens offline, no scripts."),
        labels={"contents": _("Contents")},
    )
