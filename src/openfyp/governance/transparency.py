"""The transparency report: what the platform recorded in a period, counted from the stores themselves.

Uploads and accounts, data export and deletion requests, refused cross-region requests and staff access,
which model and ranking-config versions served how many For You pages and who signed them off, and
moderation decisions, their reasons and appeals. Nothing is typed in: every figure is a query.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from openfyp.governance.audit import AuditAction
from openfyp.governance.errors import InvalidInput
from openfyp.store.base import Base
from openfyp.store.tables import AuditEntryRow, DataRequest, ErasedUser, FeedRequest, User, Video

REPORT_FORMAT = 1


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime  # inclusive
    end: datetime  # exclusive

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "start": self.start.isoformat(), "end": self.end.isoformat()}


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _next_month(moment: datetime) -> datetime:
    return _month_start(moment.year + (moment.month == 12), moment.month % 12 + 1)


def _instant(text: str, *, end: bool) -> datetime:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment  # an end date counts in full
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("invalid_period", f"{text!r} is not a date (YYYY-MM-DD) or an ISO instant",
                           "period") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_period(text: str) -> Period:
    """``2026-Q4`` (a quarter), ``2026-11`` (a month) or ``START:END`` (dates, END included, or ISO instants)."""
    text = (text or "").strip()
    if match := re.fullmatch(r"(\d{4})-[Qq]([1-4])", text):
        year, quarter = int(match[1]), int(match[2])
        start = _month_start(year, 3 * quarter - 2)
        end = _month_start(year + 1, 1) if quarter == 4 else _month_start(year, 3 * quarter + 1)
        return Period(f"{year}-Q{quarter}", start, end)
    if match := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise InvalidInput("invalid_period", f"{text!r}: there is no month {month}", "period")
        start = _month_start(year, month)
        return Period(f"{year}-{month:02d}", start, _next_month(start))
    # START:END; ISO instants hold colons themselves, so the separator is the colon before the second year.
    if match := re.fullmatch(r"(\d{4}-\d{2}-\d{2}[^:]*(?::\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)?)?)"
                             r":(\d{4}-\d{2}-\d{2}.*)", text):
        left, right = match[1], match[2]
        start, end = _instant(left, end=False), _instant(right, end=True)
        if end <= start:
            raise InvalidInput("invalid_period", "the period ends before it starts", "period")
        return Period(f"{left}:{right}", start, end)
    raise InvalidInput("invalid_period", f"{text!r} is not a period: use 2026-Q4, 2026-11 or START:END", "period")


# ---- figures ----------------------------------------------------------------------------------------------------
def _in(column, period: Period):
    return column >= period.start, column < period.end


def _count(db: Session, table, *conditions) -> int:
    return int(db.scalar(select(func.count()).select_from(table).where(*conditions)) or 0)


def _grouped(db: Session, column, *conditions) -> dict[str, int]:
    rows = db.execute(select(column, func.count()).where(*conditions).group_by(column)).all()
    return {str(key) if key is not None else "none": int(count) for key, count in rows}


def _daily(values: list[datetime], period: Period) -> dict[str, int]:
    counts = Counter(v.astimezone(UTC).date().isoformat() for v in values if v is not None)
    days: dict[str, int] = {}
    day = period.start.date()
    while datetime(day.year, day.month, day.day, tzinfo=UTC) < period.end and len(days) < 1100:
        days[day.isoformat()] = counts.get(day.isoformat(), 0)
        day += timedelta(days=1)
    return days


def _audit_in(db: Session, region: str, period: Period, action: AuditAction) -> list[AuditEntryRow]:
    return list(db.scalars(select(AuditEntryRow).where(
        AuditEntryRow.region == region, AuditEntryRow.action == action.value, *_in(AuditEntryRow.at, period))))


def _uploads(db: Session, period: Period) -> dict[str, Any]:
    window = _in(Video.created_at, period)
    return {"total": _count(db, Video, *window), "by_status": _grouped(db, Video.status, *window),
            "by_visibility": _grouped(db, Video.visibility, *window),
            "daily": _daily(list(db.scalars(select(Video.created_at).where(*window))), period)}


def _accounts(db: Session, period: Period) -> dict[str, Any]:
    window = _in(User.created_at, period)
    return {"created": _count(db, User, *window), "deleted": _count(db, ErasedUser, *_in(ErasedUser.erased_at, period)),
            "active_at_end": _count(db, User, User.created_at < period.end, User.deleted_at.is_(None)),
            "daily_created": _daily(list(db.scalars(select(User.created_at).where(*window))), period)}


def _data_requests(db: Session, region: str, period: Period) -> dict[str, Any]:
    window = _in(DataRequest.created_at, period)
    staff = _audit_in(db, region, period, AuditAction.staff_data_access)
    return {"by_kind": _grouped(db, DataRequest.kind, *window),
            "exports": _count(db, DataRequest, DataRequest.kind == "export", *window),
            "staff_exports": _count(db, DataRequest, DataRequest.kind == "staff_export", *window),
            "deletions": _count(db, DataRequest, DataRequest.kind == "deletion", *window),
            "staff_access": {"total": len(staff),
                             "by_purpose": dict(Counter(str(e.details.get("purpose")) for e in staff))}}


def _refusals(db: Session, region: str, period: Period) -> dict[str, Any]:
    entries = _audit_in(db, region, period, AuditAction.cross_region_refused)
    return {"total": len(entries),
            "by_data_class": dict(Counter(str(e.details.get("data_class")) for e in entries)),
            "by_foreign_region": dict(Counter(str(e.details.get("foreign_region")) for e in entries)),
            "by_channel": dict(Counter(str(e.details.get("via")) for e in entries))}


def _served_versions(db: Session, services: Any, region: str, period: Period) -> dict[str, Any]:
    from openfyp.governance.errors import DomainError
    from openfyp.governance.releases import ReleaseBook

    window = _in(FeedRequest.created_at, period)
    rows = db.execute(select(FeedRequest.model_version, FeedRequest.config_version, func.count(),
                             func.min(FeedRequest.created_at), func.max(FeedRequest.created_at))
                      .where(FeedRequest.surface == "foryou", *window)
                      .group_by(FeedRequest.model_version, FeedRequest.config_version)).all()
    book = ReleaseBook(services.settings)
    served = []
    for model, config, count, first, last in rows:
        entry: dict[str, Any] = {"model_version": model, "config_version": config, "pages": int(count),
                                 "first_served": first.isoformat() if first else None,
                                 "last_served": last.isoformat() if last else None}
        for kind, version in (("model", model), ("config", config)):
            try:
                status = book.status(book.find(version, kind)) if version else None
            except DomainError:
                status = None
            entry[f"{kind}_sign_off"] = None if status is None else {
                "state": status.state.value,
                "operator_key_id": status.operator.key_id if status.operator else None,
                "overseer_key_id": status.overseer.key_id if status.overseer else None,
                "overseer_reason": status.overseer.reason if status.overseer else None,
                "approved_at": status.overseer.signed_at if status.overseer else None}
        served.append(entry)
    decisions = []
    for action in (AuditAction.release_proposed, AuditAction.overseer_approval, AuditAction.overseer_rejection):
        for e in _audit_in(db, region, period, action):
            decisions.append({"at": e.at.isoformat(), "action": e.action, "kind": e.target_kind,
                              "version": e.target_id, "key_id": e.details.get("key_id"),
                              "actor_id": e.actor_id, "reason": e.justification})
    decisions.sort(key=lambda d: d["at"])
    pages = _count(db, FeedRequest, FeedRequest.surface == "foryou", *window)
    personalised = _count(db, FeedRequest, FeedRequest.surface == "foryou", FeedRequest.personalised.is_(True), *window)
    return {"foryou_pages": pages, "personalised_pages": personalised, "non_personalised_pages": pages - personalised,
            "served": served, "release_decisions": decisions}


def _table(name: str) -> Table | None:
    return Base.metadata.tables.get(name)


def _moderation(db: Session, period: Period) -> dict[str, Any]:
    cases, appeals = _table("moderation_cases"), _table("appeals")
    if cases is None:
        return {"available": False}
    decided = (cases.c.decided_at >= period.start, cases.c.decided_at < period.end)
    rows = db.execute(select(cases.c.decision, cases.c.decision_reason, cases.c.target_kind, func.count())
                      .where(*decided).group_by(cases.c.decision, cases.c.decision_reason, cases.c.target_kind)).all()
    by_decision: Counter[str] = Counter()
    removal_reasons: Counter[str] = Counter()
    removals_by_target: Counter[str] = Counter()
    for decision, reason, target, count in rows:
        by_decision[str(decision)] += count
        if decision == "remove":
            removal_reasons[str(reason)] += count
            removals_by_target[str(target)] += count
    result: dict[str, Any] = {
        "available": True, "decisions": sum(by_decision.values()), "by_decision": dict(by_decision),
        "removals": by_decision.get("remove", 0), "removal_reasons": dict(removal_reasons),
        "removals_by_target": dict(removals_by_target),
        "by_origin": {str(k): int(v) for k, v in db.execute(select(cases.c.origin, func.count()).where(*decided)
                                                            .group_by(cases.c.origin)).all()},
    }
    if appeals is not None:
        filed = (appeals.c.created_at >= period.start, appeals.c.created_at < period.end)
        resolved = (appeals.c.resolved_at >= period.start, appeals.c.resolved_at < period.end)
        outcomes = {str(k): int(v) for k, v in db.execute(select(appeals.c.status, func.count()).where(*resolved)
                                                          .group_by(appeals.c.status)).all()}
        result["appeals"] = {"filed": _count(db, appeals, *filed), "resolved": sum(outcomes.values()),
                             "outcomes": outcomes, "overturned": outcomes.get("overturned", 0)}
    return result


def build_report(services: Any, period: Period) -> dict[str, Any]:
    from openfyp.governance.wiring import governance_of

    region = services.settings.region
    with services.session_factory() as db:
        report = {
            "format": REPORT_FORMAT, "region": region, "period": period.to_dict(),
            "generated_at": datetime.now(UTC).isoformat(),
            "uploads": _uploads(db, period), "accounts": _accounts(db, period),
            "data_requests": _data_requests(db, region, period),
            "cross_region_refusals": _refusals(db, region, period),
            "algorithm": _served_versions(db, services, region, period),
            "moderation": _moderation(db, period),
        }
    chain = governance_of(services).audit.verify()
    report["audit_log"] = {"intact": chain.ok, "entries": chain.entries_checked,
                           "head": chain.head.to_dict() if chain.head else None,
                           "problem": None if chain.ok else chain.message}
    return report


# ---- rendering ----------------------------------------------------------------------------------------------------
def csv_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(section, metric, value)`` for every scalar figure, dotted paths for nested ones."""
    rows: list[tuple[str, str, str]] = []

    def walk(section: str, prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(section, f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(section, f"{prefix}[{index}]", inner)
        else:
            rows.append((section, prefix, "" if value is None else str(value)))

    for section in ("uploads", "accounts", "data_requests", "cross_region_refusals", "algorithm", "moderation",
                    "audit_log"):
        walk(section, "", report.get(section))
    return rows


def _chart(title: str, labels: list[str], values: list[float], *, kind: str = "bar") -> str | None:
    if not labels:
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 3.2), dpi=110)
    axes = figure.add_subplot()
    if kind == "line":
        axes.plot(range(len(values)), values, color="#fe2c55", linewidth=1.8)
        step = max(1, len(labels) // 8)
        axes.set_xticks(range(0, len(labels), step), [labels[i][5:] for i in range(0, len(labels), step)])
    else:
        axes.bar(range(len(values)), values, color="#25f4ee", edgecolor="#161823")
        axes.set_xticks(range(len(labels)), [label[:22] for label in labels], rotation=20, ha="right")
    axes.set_title(title)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def charts(report: dict[str, Any]) -> dict[str, str]:
    uploads = report["uploads"]["daily"]
    served = report["algorithm"]["served"]
    moderation = report["moderation"]
    made = {
        "uploads_per_day": _chart("Uploads per day", list(uploads), list(uploads.values()), kind="line"),
        "pages_by_model": _chart("For You pages by model version",
                                 [f"{s['model_version']} / {s['config_version']}" for s in served],
                                 [s["pages"] for s in served]),
        "data_requests": _chart("Data requests", list(report["data_requests"]["by_kind"]),
                                list(report["data_requests"]["by_kind"].values())),
        "refusals": _chart("Refused cross-region requests by data class",
                           list(report["cross_region_refusals"]["by_data_class"]),
                           list(report["cross_region_refusals"]["by_data_class"].values())),
        "removals": _chart("Moderation removals by reason", list(moderation.get("removal_reasons", {})),
                           list(moderation.get("removal_reasons", {}).values())) if moderation.get("available") else None,
    }
    return {name: png for name, png in made.items() if png}


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Transparency report {{ r.region }} {{ r.period.label }}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#161823}
h1{font-size:1.6rem} h2{margin-top:2rem;border-bottom:1px solid #ddd} table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:left} td.n{text-align:right} img{max-width:100%}
.ok{color:#137333} .bad{color:#b3261e}
</style></head><body>
<h1>Transparency report — region {{ r.region }}, {{ r.period.label }}</h1>
<p>From {{ r.period.start }} to {{ r.period.end }} (end excluded). Generated {{ r.generated_at }} from the
deployment's own stores.</p>
<h2>Uploads and accounts</h2>
<table><tr><th>Videos uploaded</th><td class="n">{{ r.uploads.total }}</td></tr>
{% for k, v in r.uploads.by_status.items() %}<tr><td>&nbsp; {{ k }}</td><td class="n">{{ v }}</td></tr>{% endfor %}
<tr><th>Accounts created</th><td class="n">{{ r.accounts.created }}</td></tr>
<tr><th>Accounts deleted</th><td class="n">{{ r.accounts.deleted }}</td></tr>
<tr><th>Active accounts at period end</th><td class="n">{{ r.accounts.active_at_end }}</td></tr></table>
{% if c.uploads_per_day %}<img alt="Uploads per day" src="data:image/png;base64,{{ c.uploads_per_day }}">{% endif %}
<h2>Data requests</h2>
<table><tr><th>Exports by the account holder</th><td class="n">{{ r.data_requests.exports }}</td></tr>
<tr><th>Exports by staff (justified, audited)</th><td class="n">{{ r.data_requests.staff_exports }}</td></tr>
<tr><th>Account deletions</th><td class="n">{{ r.data_requests.deletions }}</td></tr>
<tr><th>Staff access to protected data</th><td class="n">{{ r.data_requests.staff_access.total }}</td></tr></table>
{% if c.data_requests %}<img alt="Data requests" src="data:image/png;base64,{{ c.data_requests }}">{% endif %}
<h2>Refused cross-region requests</h2>
<table><tr><th>Refused</th><td class="n">{{ r.cross_region_refusals.total }}</td></tr>
{% for k, v in r.cross_region_refusals.by_data_class.items() %}<tr><td>&nbsp; {{ k }}</td><td class="n">{{ v }}</td></tr>{% endfor %}</table>
{% if c.refusals %}<img alt="Refusals" src="data:image/png;base64,{{ c.refusals }}">{% endif %}
<h2>The algorithm: versions served and their sign-off</h2>
<p>{{ r.algorithm.foryou_pages }} For You pages, {{ r.algorithm.non_personalised_pages }} of them non-personalised.</p>
<table><tr><th>Model</th><th>Ranking config</th><th>Pages</th><th>Model sign-off</th><th>Overseer key</th><th>Overseer's reason</th></tr>
{% for s in r.algorithm.served %}<tr><td>{{ s.model_version }}</td><td>{{ s.config_version }}</td><td class="n">{{ s.pages }}</td>
<td>{{ s.model_sign_off.state if s.model_sign_off else "baseline (no model)" }}</td>
<td>{{ s.model_sign_off.overseer_key_id if s.model_sign_off else "" }}</td>
<td>{{ s.model_sign_off.overseer_reason if s.model_sign_off else "" }}</td></tr>{% endfor %}</table>
{% if c.pages_by_model %}<img alt="Pages by model" src="data:image/png;base64,{{ c.pages_by_model }}">{% endif %}
<h3>Release decisions in the period</h3>
<table><tr><th>When</th><th>Decision</th><th>What</th><th>Key</th><th>Reason</th></tr>
{% for d in r.algorithm.release_decisions %}<tr><td>{{ d.at }}</td><td>{{ d.action }}</td><td>{{ d.kind }} {{ d.version }}</td>
<td>{{ d.key_id or "" }}</td><td>{{ d.reason or "" }}</td></tr>{% endfor %}</table>
<h2>Moderation</h2>
{% if r.moderation.available %}
<table><tr><th>Decisions</th><td class="n">{{ r.moderation.decisions }}</td></tr>
<tr><th>Removals</th><td class="n">{{ r.moderation.removals }}</td></tr>
{% for k, v in r.moderation.removal_reasons.items() %}<tr><td>&nbsp; {{ k }}</td><td class="n">{{ v }}</td></tr>{% endfor %}
{% if r.moderation.appeals %}<tr><th>Appeals filed</th><td class="n">{{ r.moderation.appeals.filed }}</td></tr>
<tr><th>Appeals resolved</th><td class="n">{{ r.moderation.appeals.resolved }}</td></tr>
<tr><th>Decisions overturned on appeal</th><td class="n">{{ r.moderation.appeals.overturned }}</td></tr>{% endif %}</table>
{% if c.removals %}<img alt="Removals by reason" src="data:image/png;base64,{{ c.removals }}">{% endif %}
{% else %}<p>This deployment has no moderation records.</p>{% endif %}
<h2>Audit log</h2>
<p class="{{ 'ok' if r.audit_log.intact else 'bad' }}">{{ "Intact" if r.audit_log.intact else "BROKEN: " ~ r.audit_log.problem }}:
{{ r.audit_log.entries }} entries{% if r.audit_log.head %}, head {{ r.audit_log.head.seq }}
<code>{{ r.audit_log.head.entry_hash }}</code>{% endif %}.</p>
</body></html>
"""


def render_html(report: dict[str, Any]) -> str:
    from jinja2 import Environment

    environment = Environment(autoescape=True)
    return environment.from_string(_HTML).render(r=report, c=charts(report))


def write_report(report: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"transparency-{report['region']}-{report['period']['label'].replace(':', '_')}"
    json_path, csv_path, html_path = (folder / f"{stem}.{ext}" for ext in ("json", "csv", "html"))
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section", "metric", "value"])
        writer.writerows(csv_rows(report))
    html_path.write_text(render_html(report))
    return [json_path, csv_path, html_path]
