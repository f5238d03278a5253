"""Cross-reference checks on a playbook that passed type validation.

Unknown and duplicate ids, ``after:`` cycles, steps outside the campaign span, targets naming unknown
metrics, unknown ``{{variables}}`` in scripts and numbers that cannot be right. Each problem points at
the exact place in the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sopflow.i18n import _
from sopflow.playbook.model import Playbook, parse_metric
from sopflow.playbook.positions import Mark, Path, PositionIndex
from sopflow.playbook.problems import Problem, dotted
from sopflow.playbook.schedule import find_after_cycle, resolve_offsets
from sopflow.playbook.templating import known_variables, placeholders
from sopflow.playbook.timenode import format_offset, parse_after, parse_clock, parse_time_node

STEPS: Path = ("timeline", "phases")


class _Checker:
    def __init__(self, playbook: Playbook, index: PositionIndex, filename: str, source: str) -> None:
        self.pb = playbook
        self.index = index
        self.filename = filename
        self.source = source
        self.problems: list[Problem] = []

    def add(
        self, path: Path, code: str, message: str, *, mark: Mark | None = None, key: bool = False
    ) -> None:
        at = mark or (self.index.key(path) if key else self.index.value(path))
        self.problems.append(Problem(self.filename, at.line, at.col, code, message, dotted(path)))

    # ids -------------------------------------------------------------------------------------------
    def duplicates(self, where: Path, items: Iterable[tuple[Path, str]], what: str) -> set[str]:
        seen: set[str] = set()
        for path, item_id in items:
            if item_id in seen:
                self.add(
                    (*path, "id"), "duplicate_id", _("duplicate {what} id {id!r}", what=what, id=item_id)
                )
            seen.add(item_id)
        return seen

    def ref(self, path: Path, value: str | None, known: set[str], what: str, *, key: bool = False) -> None:
        if value is not None and value not in known:
            hint = ", ".join(sorted(known)) or _("none defined")
            self.add(
                path,
                "unknown_reference",
                _("unknown {what} {id!r} (known: {known})", what=what, id=value, known=hint),
                key=key,
            )

    def step_paths(self) -> list[tuple[Path, Any]]:
        return [
            ((*STEPS, pi, "steps", si), step)
            for pi, phase in enumerate(self.pb.timeline.phases)
            for si, step in enumerate(phase.steps)
        ]

    def run(self) -> list[Problem]:
        pb = self.pb
        roles = self.duplicates(
            (), ((("team", "roles", i), r.id) for i, r in enumerate(pb.team.roles)), _("role")
        )
        personas = self.duplicates(
            (), ((("personas", i), p.id) for i, p in enumerate(pb.personas)), _("persona")
        )
        channels = self.duplicates(
            (), ((("channels", i), c.id) for i, c in enumerate(pb.channels)), _("channel")
        )
        stages = self.duplicates(
            (), ((("funnel", "stages", i), s.id) for i, s in enumerate(pb.funnel.stages)), _("stage")
        )
        scripts = self.duplicates((), ((("scripts", i), s.id) for i, s in enumerate(pb.scripts)), _("script"))
        materials = self.duplicates(
            (), ((("materials", i), m.id) for i, m in enumerate(pb.materials)), _("material")
        )
        self.duplicates((), ((("targets", i), t.id) for i, t in enumerate(pb.targets)), _("target"))
        self.duplicates((), ((("costs", i), c.id) for i, c in enumerate(pb.costs)), _("cost"))
        self.duplicates((), (((*STEPS, i), p.id) for i, p in enumerate(pb.timeline.phases)), _("phase"))
        steps = self.duplicates((), ((path, step.id) for path, step in self.step_paths()), _("step"))
        for si, script in enumerate(pb.scripts):
            self.duplicates(
                (),
                ((("scripts", si, "variants", vi), v.id) for vi, v in enumerate(script.variants)),
                _("variant"),
            )

        for i, role in enumerate(pb.team.roles):
            self.ref(("team", "roles", i, "escalate_to"), role.escalate_to, roles, _("role"))
        self.channels_check(stages)
        self.funnel_check(stages)
        self.targets_check(stages, channels)
        for i, cost in enumerate(pb.costs):
            self.ref(("costs", i, "stage"), cost.stage, stages, _("stage"))
            if cost.per == "user" and cost.stage is None:
                self.add(
                    ("costs", i, "per"), "missing_field", _("a per-user cost needs the stage it is paid at")
                )
        self.steps_check(
            roles=roles,
            scripts=scripts,
            materials=materials,
            personas=personas,
            channels=channels,
            stages=stages,
            steps=steps,
        )
        self.timing_check()
        self.variables_check()
        self.policies_check()
        return self.problems

    # sections --------------------------------------------------------------------------------------
    def channels_check(self, stages: set[str]) -> None:
        for i, channel in enumerate(self.pb.channels):
            for stage_id in channel.rates:
                self.ref(("channels", i, "rates", stage_id), stage_id, stages, _("stage"), key=True)
            if channel.rates and self.pb.funnel.stages and self.pb.funnel.stages[0].id in channel.rates:
                self.add(
                    ("channels", i, "rates", self.pb.funnel.stages[0].id),
                    "first_stage_rate",
                    _("the first stage has no previous stage: use entry_rate for it"),
                    key=True,
                )

    def funnel_check(self, stages: set[str]) -> None:
        funnel = self.pb.funnel
        for i, stage in enumerate(funnel.stages):
            path: Path = ("funnel", "stages", i, "expected_rate")
            if i == 0 and stage.expected_rate is not None:
                self.add(
                    path,
                    "first_stage_rate",
                    _("the first stage has no previous stage: its users come from the channels' entry_rate"),
                )
            if i > 0 and stage.expected_rate is None:
                self.add(
                    ("funnel", "stages", i),
                    "missing_field",
                    _(
                        "stage {id!r} needs expected_rate, the expected conversion from the previous stage",
                        id=stage.id,
                    ),
                )
        referral = funnel.referral
        if referral is None:
            return
        ks = referral.k if isinstance(referral.k, list) else [referral.k]
        for gi, k in enumerate(ks):
            if not (k >= 0) or k != k or k > 100:
                where: Path = (
                    ("funnel", "referral", "k", gi)
                    if isinstance(referral.k, list)
                    else ("funnel", "referral", "k")
                )
                self.add(where, "out_of_range", _("K must be a number from 0 to 100, got {value}", value=k))
        self.ref(("funnel", "referral", "inviters_stage"), referral.inviters_stage, stages, _("stage"))
        self.ref(("funnel", "referral", "entry_stage"), referral.entry_stage, stages, _("stage"))

    def targets_check(self, stages: set[str], channels: set[str]) -> None:
        for i, target in enumerate(self.pb.targets):
            path: Path = ("targets", i, "metric")
            metric = parse_metric(target.metric)
            if metric is None:
                self.add(
                    path,
                    "unknown_metric",
                    _(
                        "unknown metric {metric!r}: use users.STAGE, rate.STAGE, rate_from_first.STAGE, "
                        "channel_users.CHANNEL, new_users, referred_users, revenue, cost, roi, cac or k_factor",
                        metric=target.metric,
                    ),
                )
                continue
            if metric.kind == "channel_users":
                self.ref(path, metric.subject, channels, _("channel"))
            elif metric.subject is not None:
                self.ref(path, metric.subject, stages, _("stage"))
            expected_path: Path = ("targets", i, "expected")
            if metric.is_rate and not 0 <= target.expected <= 1:
                self.add(
                    expected_path,
                    "out_of_range",
                    _("a rate target must be between 0 and 1, got {value}", value=target.expected),
                )
            elif target.expected < 0 or target.expected != target.expected:
                self.add(
                    expected_path,
                    "out_of_range",
                    _("a target cannot be negative, got {value}", value=target.expected),
                )

    def steps_check(
        self,
        *,
        roles: set[str],
        scripts: set[str],
        materials: set[str],
        personas: set[str],
        channels: set[str],
        stages: set[str],
        steps: set[str],
    ) -> None:
        for path, step in self.step_paths():
            self.ref((*path, "owner"), step.owner, roles, _("role"))
            self.ref((*path, "script"), step.script, scripts, _("script"))
            for mi, material in enumerate(step.materials):
                self.ref((*path, "materials", mi), material, materials, _("material"))
            self.ref((*path, "stage"), step.stage, stages, _("stage"))
            if step.after is not None:
                ref = parse_after(step.after).step
                self.ref((*path, "after"), ref, steps, _("step"))
            if step.audience is not None:
                audience = step.audience
                for ai, persona in enumerate(audience.personas):
                    self.ref((*path, "audience", "personas", ai), persona, personas, _("persona"))
                for ai, channel in enumerate(audience.channels):
                    self.ref((*path, "audience", "channels", ai), channel, channels, _("channel"))
                self.ref((*path, "audience", "reached"), audience.reached, stages, _("stage"))
                self.ref((*path, "audience", "not_reached"), audience.not_reached, stages, _("stage"))
            if step.exit_when is not None:
                self.ref((*path, "exit_when", "stage"), step.exit_when.stage, stages, _("stage"))

    def timing_check(self) -> None:
        span = self.pb.timeline.span
        start, end = parse_time_node(span.start), parse_time_node(span.end)
        if end <= start:
            self.add(
                ("timeline", "span", "end"),
                "bad_span",
                _("the span ends ({end}) before it starts ({start})", end=span.end, start=span.start),
            )
            return
        paths = {step.id: path for path, step in self.step_paths()}
        deps = {
            step.id: parse_after(step.after).step
            for _p, step in self.step_paths()
            if step.after is not None and parse_after(step.after).step in paths
        }
        cycle = find_after_cycle(deps)
        if cycle:
            self.add(
                (*paths[cycle[0]], "after"),
                "cycle",
                _("steps depend on each other in a cycle: {cycle}", cycle=" → ".join(cycle)),
            )
        offsets = resolve_offsets(self.pb)
        for step_id, path in paths.items():
            offset = offsets.get(step_id)
            if offset is not None and not start <= offset <= end:
                field = "at" if self.pb_step(path).at is not None else "after"
                self.add(
                    (*path, field),
                    "outside_span",
                    _(
                        "step {id!r} falls at {time}, outside the campaign span {start} – {end}",
                        id=step_id,
                        time=format_offset(offset),
                        start=span.start,
                        end=span.end,
                    ),
                )

    def pb_step(self, path: Path) -> Any:
        return self.pb.timeline.phases[int(path[2])].steps[int(path[4])]

    def variables_check(self) -> None:
        known = known_variables(self.pb.variables)
        for si, script in enumerate(self.pb.scripts):
            texts: list[tuple[Path, str]] = [(("scripts", si, "text"), script.text)]
            texts += [
                (("scripts", si, "variants", vi, "text"), v.text) for vi, v in enumerate(script.variants)
            ]
            for path, text in texts:
                for ph in placeholders(text):
                    if ph.valid and ph.name in known:
                        continue
                    mark = self.text_mark(path, text, ph.start)
                    if not ph.valid:
                        message = _(
                            "invalid placeholder {{{{{name}}}}}: a variable name is letters, digits and _",
                            name=ph.name,
                        )
                    else:
                        message = _(
                            "unknown variable {{{{{name}}}}} in script {id!r} (known: {known})",
                            name=ph.name,
                            id=script.id,
                            known=", ".join(sorted(known)),
                        )
                    self.add(path, "unknown_variable", message, mark=mark)

    def text_mark(self, path: Path, text: str, offset: int) -> Mark:
        """The file position of ``text[offset:]``: found in the source after the value's own mark."""
        base = self.index.value(path)
        lines = self.source.splitlines(keepends=True)
        if base.line > len(lines):
            return base
        start = sum(len(line) for line in lines[: base.line - 1]) + base.col - 1
        literal = text[offset:].split("}}", 1)[0] + "}}"
        nth = text[:offset].count(literal)
        pos = start - 1
        for _i in range(nth + 1):
            pos = self.source.find(literal, pos + 1)
            if pos < 0:
                return base
        line = self.source.count("\n", 0, pos) + 1
        col = pos - (self.source.rfind("\n", 0, pos) + 1) + 1
        return Mark(line, col)

    def policies_check(self) -> None:
        quiet = self.pb.policies.quiet_hours
        if quiet is not None and parse_clock(quiet.start) == parse_clock(quiet.end):
            self.add(
                ("policies", "quiet_hours", "end"),
                "bad_span",
                _("quiet hours start and end at the same time"),
            )


def cross_check(playbook: Playbook, *, index: PositionIndex, filename: str, source: str) -> list[Problem]:
    return _Checker(playbook, index, filename, source).run()
