"""Cross-reference checks on a playbook that passed type validation.

Unknown and duplicate ids, ``after:`` cycles, steps outside the campaign span, targets naming unknown
metrics, unknown ``{{variables}}`` in scripts and numbers that cannot be right. Each problem points at
the exact place in the file.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable

from sopflow.i18n import _
from sopflow.playbook.messages import number
from sopflow.playbook.model import Playbook, Step, parse_metric
from sopflow.playbook.positions import Mark, Path, PositionIndex, SourceLines
from sopflow.playbook.problems import Problem, dotted
from sopflow.playbook.schedule import find_after_cycle, resolve_offsets
from sopflow.playbook.templating import NAME, known_variables, placeholders
from sopflow.playbook.timenode import format_offset, parse_after, parse_clock, parse_duration, parse_time_node

STEPS: Path = ("timeline", "phases")
MAX_AFTER_CHAIN = 200


class _Checker:
    def __init__(self, playbook: Playbook, index: PositionIndex, filename: str, source: str) -> None:
        self.pb = playbook
        self.index = index
        self.filename = filename
        self.source = SourceLines(source)
        self.problems: list[Problem] = []
        # Every position the document has, in order: a value's text ends before the next one starts.
        self.starts = sorted({(m.line, m.col) for m in (*index.keys.values(), *index.values.values())})

    def add(
        self, path: Path, code: str, message: str, *, mark: Mark | None = None, key: bool = False
    ) -> None:
        at = mark or (self.index.key(path) if key else self.index.value(path))
        self.problems.append(Problem(self.filename, at.line, at.col, code, message, dotted(path)))

    # ids -------------------------------------------------------------------------------------------
    def duplicates(self, items: Iterable[tuple[Path, str]], what: str) -> set[str]:
        seen: set[str] = set()
        for path, item_id in items:
            if item_id in seen:
                self.add(
                    (*path, "id"), "duplicate_id", _("duplicate {what} id {id!r}", what=what, id=item_id)
                )
            seen.add(item_id)
        return seen

    def ref(
        self,
        path: Path,
        value: str | None,
        known: set[str],
        what: str,
        *,
        key: bool = False,
        mark: Mark | None = None,
    ) -> None:
        if value is not None and value not in known:
            hint = ", ".join(sorted(known)) or _("none defined")
            message = _("unknown {what} {id!r} (known: {known})", what=what, id=value, known=hint)
            self.add(path, "unknown_reference", message, key=key, mark=mark)

    def step_paths(self) -> list[tuple[Path, Step]]:
        return [
            ((*STEPS, pi, "steps", si), step)
            for pi, phase in enumerate(self.pb.timeline.phases)
            for si, step in enumerate(phase.steps)
        ]

    def run(self) -> list[Problem]:
        pb = self.pb
        ids = {
            "roles": self.duplicates(
                ((("team", "roles", i), r.id) for i, r in enumerate(pb.team.roles)), _("role")
            ),
            "personas": self.duplicates(
                ((("personas", i), p.id) for i, p in enumerate(pb.personas)), _("persona")
            ),
            "channels": self.duplicates(
                ((("channels", i), c.id) for i, c in enumerate(pb.channels)), _("channel")
            ),
            "stages": self.duplicates(
                ((("funnel", "stages", i), s.id) for i, s in enumerate(pb.funnel.stages)), _("stage")
            ),
            "scripts": self.duplicates(
                ((("scripts", i), s.id) for i, s in enumerate(pb.scripts)), _("script")
            ),
            "materials": self.duplicates(
                ((("materials", i), m.id) for i, m in enumerate(pb.materials)), _("material")
            ),
        }
        self.duplicates(((("targets", i), t.id) for i, t in enumerate(pb.targets)), _("target"))
        self.duplicates(((("costs", i), c.id) for i, c in enumerate(pb.costs)), _("cost"))
        self.duplicates((((*STEPS, i), p.id) for i, p in enumerate(pb.timeline.phases)), _("phase"))
        ids["steps"] = self.duplicates(((path, step.id) for path, step in self.step_paths()), _("step"))
        for si, script in enumerate(pb.scripts):
            variants = ((("scripts", si, "variants", vi), v.id) for vi, v in enumerate(script.variants))
            self.duplicates(variants, _("variant"))

        for i, role in enumerate(pb.team.roles):
            self.ref(("team", "roles", i, "escalate_to"), role.escalate_to, ids["roles"], _("role"))
        self.channels_check(ids["stages"])
        self.funnel_check(ids["stages"])
        self.targets_check(ids["stages"], ids["channels"])
        self.costs_check(ids["stages"])
        self.steps_check(ids)
        self.timing_check()
        self.variables_check()
        self.policies_check()
        return self.problems

    # sections --------------------------------------------------------------------------------------
    def channels_check(self, stages: set[str]) -> None:
        first = self.pb.funnel.stages[0].id
        for i, channel in enumerate(self.pb.channels):
            for stage_id in channel.rates:
                self.ref(("channels", i, "rates", stage_id), stage_id, stages, _("stage"), key=True)
            if first in channel.rates:
                self.add(
                    ("channels", i, "rates", first),
                    "first_stage_rate",
                    _("the first stage has no previous stage: use entry_rate for it"),
                    key=True,
                )
            # Reach is posters × reach_per_poster; one without the other would silently fall back to base_users.
            if (channel.posters is None) != (channel.reach_per_poster is None):
                given, needed = (
                    ("posters", "reach_per_poster")
                    if channel.posters is not None
                    else ("reach_per_poster", "posters")
                )
                self.add(
                    ("channels", i, given),
                    "missing_field",
                    _(
                        "{given} needs {needed}: reach is posters × reach_per_poster",
                        given=given,
                        needed=needed,
                    ),
                    key=True,
                )

    def funnel_check(self, stages: set[str]) -> None:
        funnel = self.pb.funnel
        for i, stage in enumerate(funnel.stages):
            if i == 0 and stage.expected_rate is not None:
                self.add(
                    ("funnel", "stages", i, "expected_rate"),
                    "first_stage_rate",
                    _("the first stage has no previous stage: its users come from the channels' entry_rate"),
                    key=True,
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
        if parse_duration(funnel.window) == 0:
            self.add(("funnel", "window"), "out_of_range", _("the conversion window must be longer than 0"))
        referral = funnel.referral
        if referral is None:
            return
        ks = referral.k if isinstance(referral.k, list) else [referral.k]
        for gi, k in enumerate(ks):
            if not 0 <= k <= 100:
                where: Path = (
                    ("funnel", "referral", "k", gi)
                    if isinstance(referral.k, list)
                    else ("funnel", "referral", "k")
                )
                self.add(
                    where, "out_of_range", _("K must be a number from 0 to 100, got {value}", value=number(k))
                )
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
            if metric.subject is not None:
                # Point at the subject after the dot, where the typo is.
                at = self.find_in_value(path, target.metric)
                mark = None if at is None else Mark(at.line, at.col + len(metric.kind) + 1)
                known = channels if metric.kind == "channel_users" else stages
                what = _("channel") if metric.kind == "channel_users" else _("stage")
                self.ref(path, metric.subject, known, what, mark=mark)
            expected_path: Path = ("targets", i, "expected")
            if metric.is_rate and not 0 <= target.expected <= 1:
                self.add(
                    expected_path,
                    "out_of_range",
                    _("a rate target must be between 0 and 1, got {value}", value=number(target.expected)),
                )
            elif target.expected < 0:
                self.add(
                    expected_path,
                    "out_of_range",
                    _("a target cannot be negative, got {value}", value=number(target.expected)),
                )

    def costs_check(self, stages: set[str]) -> None:
        for i, cost in enumerate(self.pb.costs):
            self.ref(("costs", i, "stage"), cost.stage, stages, _("stage"))
            if cost.per == "user" and cost.stage is None:
                self.add(
                    ("costs", i, "per"), "missing_field", _("a per-user cost needs the stage it is paid at")
                )

    def steps_check(self, ids: dict[str, set[str]]) -> None:
        for path, step in self.step_paths():
            self.ref((*path, "owner"), step.owner, ids["roles"], _("role"))
            self.ref((*path, "script"), step.script, ids["scripts"], _("script"))
            for mi, material in enumerate(step.materials):
                self.ref((*path, "materials", mi), material, ids["materials"], _("material"))
            self.ref((*path, "stage"), step.stage, ids["stages"], _("stage"))
            if step.after is not None:
                ref = parse_after(step.after).step
                self.ref(
                    (*path, "after"),
                    ref,
                    ids["steps"],
                    _("step"),
                    mark=self.find_in_value((*path, "after"), ref),
                )
            if step.audience is not None:
                self.audience_check((*path, "audience"), step, ids)
            if step.exit_when is not None:
                self.ref((*path, "exit_when", "stage"), step.exit_when.stage, ids["stages"], _("stage"))

    def audience_check(self, path: Path, step: Step, ids: dict[str, set[str]]) -> None:
        audience = step.audience
        assert audience is not None
        for ai, persona in enumerate(audience.personas):
            self.ref((*path, "personas", ai), persona, ids["personas"], _("persona"))
        for ai, channel in enumerate(audience.channels):
            self.ref((*path, "channels", ai), channel, ids["channels"], _("channel"))
        self.ref((*path, "reached"), audience.reached, ids["stages"], _("stage"))
        self.ref((*path, "not_reached"), audience.not_reached, ids["stages"], _("stage"))

    def timing_check(self) -> None:
        # With duplicate step ids an `after:` reference is ambiguous; the duplicate is reported already.
        counts = Counter(step.id for _p, step in self.step_paths())
        paths = {step.id: path for path, step in self.step_paths() if counts[step.id] == 1}
        deps = {
            step.id: parse_after(step.after).step
            for _p, step in self.step_paths()
            if step.id in paths and step.after is not None and parse_after(step.after).step in paths
        }
        while (cycle := find_after_cycle(deps)) is not None:
            self.add(
                (*paths[cycle[0]], "after"),
                "cycle",
                _("steps depend on each other in a cycle: {cycle}", cycle=" → ".join(cycle)),
            )
            for step_id in cycle:
                deps.pop(step_id, None)
        if not self.chain_check(deps, paths):
            return  # resolving the times would recurse along the chain
        span = self.pb.timeline.span
        start, end = parse_time_node(span.start), parse_time_node(span.end)
        if end <= start:
            self.add(
                ("timeline", "span", "end"),
                "bad_span",
                _("the span ends ({end}) before it starts ({start})", end=span.end, start=span.start),
            )
            return
        offsets = resolve_offsets(self.pb)
        for step_id, path in paths.items():
            offset = offsets.get(step_id)
            if offset is not None and not start <= offset <= end:
                field = (
                    "at"
                    if self.pb.timeline.phases[int(path[2])].steps[int(path[4])].at is not None
                    else "after"
                )
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

    def chain_check(self, deps: dict[str, str], paths: dict[str, Path]) -> bool:
        """Long ``after:`` chains: each link is one more place a delay can slip, and scheduling recurses on them."""
        depth: dict[str, int] = {}
        for origin in deps:
            chain = []
            node: str | None = origin
            while node is not None and node in deps and node not in depth:
                chain.append(node)
                node = deps.get(node)
            known = depth.get(node, 0) if node is not None else 0
            for offset, step_id in enumerate(reversed(chain), start=1):
                depth[step_id] = known + offset
        for step_id, length in depth.items():
            if length > MAX_AFTER_CHAIN >= depth.get(deps.get(step_id, ""), 0):
                self.add(
                    (*paths[step_id], "after"),
                    "chain_too_long",
                    _(
                        "step {id!r} ends a chain of more than {limit} after: references; give some steps an at: time",
                        id=step_id,
                        limit=MAX_AFTER_CHAIN,
                    ),
                )
        return max(depth.values(), default=0) <= MAX_AFTER_CHAIN

    def variables_check(self) -> None:
        for name in self.pb.variables:
            if not NAME.match(name):
                self.add(
                    ("variables", name),
                    "invalid_variable",
                    key=True,
                    message=_(
                        "invalid variable name {name!r}: use letters, digits and _, not starting with a digit",
                        name=name,
                    ),
                )
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
                    mark = self.placeholder_mark(path, text, ph.start)
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

    def placeholder_mark(self, path: Path, text: str, offset: int) -> Mark | None:
        """The file position of the placeholder at ``text[offset:]`` (the n-th time its text occurs)."""
        literal = text[offset:].split("}}", 1)[0] + "}}"
        return self.find_in_value(path, literal, nth=text[:offset].count(literal))

    def find_in_value(self, path: Path, literal: str, *, nth: int = 0) -> Mark | None:
        """Where ``literal`` is written inside the value at ``path`` (any style: plain, quoted, ``|``).

        None when the source spells it differently (escapes, folded lines): the value's own mark is used then.
        """
        base = self.index.value(path)
        start = self.source.offset(base)
        if start is None or not literal:
            return None
        following = bisect.bisect_right(self.starts, (base.line, base.col))
        stop_mark = Mark(*self.starts[following]) if following < len(self.starts) else None
        stop = self.source.offset(stop_mark) if stop_mark else None
        text = self.source.text
        pos = start - 1
        for _i in range(nth + 1):
            pos = text.find(literal, pos + 1, len(text) if stop is None else stop)
            if pos < 0:
                return None
        return self.source.mark(pos)

    def policies_check(self) -> None:
        quiet = self.pb.policies.quiet_hours
        if quiet is not None and parse_clock(quiet.start) == parse_clock(quiet.end):
            self.add(
                ("policies", "quiet_hours", "end"),
                "bad_span",
                _("quiet hours start and end at the same time"),
            )
        cap = self.pb.policies.frequency_cap
        if cap is not None and parse_duration(cap.per) == 0:
            self.add(
                ("policies", "frequency_cap", "per"),
                "out_of_range",
                _("the frequency cap's period must be longer than 0"),
            )


def cross_check(playbook: Playbook, *, index: PositionIndex, filename: str, source: str) -> list[Problem]:
    """Every cross-reference problem of a playbook that passed type validation."""
    return _Checker(playbook, index, filename, source).run()
