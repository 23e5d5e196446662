"""The ORM-level residency guard: a deployment's sessions only ever see and write rows of its own region.

Installed on the deployment's session factory (``install_region_guard``), so no code path can forget it:

- every ORM SELECT, UPDATE and DELETE gets ``region = <this region>`` on each ``RegionBound`` entity, in
  joins and subqueries too, so lists, counts and feeds simply never contain foreign rows;
- ``Session.get`` of a foreign row (an access by id) is refused with ``CrossRegionAccessRefused`` and
  audit-logged instead of pretending the row does not exist;
- a foreign row that still reaches the ORM (a hand-written ``from_statement``) is refused as it loads;
- flushing a new or changed row of another region is refused.

Governance code that must look at a row's region itself (to refuse and audit) opts out per statement with
``.execution_options(**ALL_REGIONS)`` and selects columns, never entities.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, String, event, inspect, literal_column, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from openfyp.governance.audit import AUDIT_INFO_KEY, AuditAction, AuditLog, AuditRecord
from openfyp.governance.data_classes import classify, table_name
from openfyp.governance.errors import CrossRegionAccessRefused
from openfyp.store.base import RegionBound

REGION_INFO_KEY = "openfyp.region"
_BYPASS_OPTION = "openfyp_all_regions"
ALL_REGIONS = {_BYPASS_OPTION: True}
_GUARDED_FLAG = "_openfyp_region_guarded"


def session_region(db: Session) -> str | None:
    return db.info.get(REGION_INFO_KEY)


def is_region_bound(model: Any) -> bool:
    return isinstance(model, type) and issubclass(model, RegionBound)


def refuse(db: Session | None, *, model: Any, ident: object, foreign_region: str, via: str,
           actor_id: int | None = None, actor_role: str | None = None, purpose: str | None = None) -> None:
    """Audit the attempt (surviving the caller's rollback) and raise ``CrossRegionAccessRefused``."""
    data_class = classify(model)
    region = session_region(db) if db is not None else None
    audit: AuditLog | None = db.info.get(AUDIT_INFO_KEY) if db is not None else None
    if audit is not None:
        details = {"data_class": data_class.value, "foreign_region": foreign_region, "via": via}
        if purpose:
            details["purpose"] = purpose
        audit.append_beside(db, AuditRecord(
            action=AuditAction.cross_region_refused.value, actor_id=actor_id, actor_role=actor_role,
            target_kind=table_name(model), target_id=str(ident), details=details))
    raise CrossRegionAccessRefused(
        f"{table_name(model)} {ident} belongs to region {foreign_region!r}; this deployment serves "
        f"{region!r} and keeps {data_class.value} data in its own region",
        data_class=data_class.value, foreign_region=foreign_region)


def region_of_row(db: Session, model: Any, ident: object) -> str | None:
    """The region of the row with primary key ``ident``, across all regions (None: no such row)."""
    mapper = inspect(model)
    if isinstance(ident, dict):
        keys = tuple(ident.get(mapper.get_property_by_column(column).key) for column in mapper.primary_key)
    else:
        keys = tuple(ident) if isinstance(ident, tuple | list) else (ident,)
    if len(keys) != len(mapper.primary_key) or any(k is None for k in keys):
        return None
    query = select(model.region).where(*(column == value for column, value in zip(mapper.primary_key, keys)))
    return db.scalar(query.execution_options(**ALL_REGIONS))


class RegionScopedSessionMixin:
    """Turns a miss on a foreign primary key into a refusal: an id of another region is not "not found"."""

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        found = super().get(entity, ident, **kwargs)  # type: ignore[misc]
        region = session_region(self)  # type: ignore[arg-type]
        if found is None and region is not None and is_region_bound(entity) and ident is not None:
            foreign = region_of_row(self, entity, ident)  # type: ignore[arg-type]
            if foreign is not None and foreign != region:
                refuse(self, model=entity, ident=ident, foreign_region=foreign, via="get")  # type: ignore[arg-type]
        return found


_REGION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,16}")


def region_constant(region: str) -> ColumnElement[str]:
    """The region as a constant in the SQL rather than a bound parameter, for the region criteria. The criteria
    appear once per entity and alias of a statement, and SQLAlchemy matches the copies of such a parameter again
    on every execution (building and comparing an expression for each): a third of the CPU of a feed page's
    policy check. A constant is part of the statement's cache key, so each region keeps its own compiled form."""
    if not _REGION_NAME.fullmatch(region):
        raise ValueError(f"not a region name: {region!r}")
    return literal_column(f"'{region}'", String)


def _region_criteria(region: str):
    """The ``do_orm_execute`` hook of one region. The criteria option is built once: building it per
    statement would analyse the lambda every time."""
    region_sql = region_constant(region)
    criteria = with_loader_criteria(RegionBound, lambda cls: cls.region == region_sql, include_aliases=True)

    def add_region_criteria(state: ORMExecuteState) -> None:
        if state.execution_options.get(_BYPASS_OPTION):
            return
        if state.is_select or state.is_update or state.is_delete:
            state.statement = state.statement.options(criteria)

    return add_region_criteria


def _refuse_foreign_load(session: Session, instance: Any) -> None:
    region = session.info.get(REGION_INFO_KEY)
    row_region = getattr(instance, "region", None) if isinstance(instance, RegionBound) else None
    if region is None or row_region is None or row_region == region:
        return
    ident = inspect(instance).identity
    session.expunge(instance)
    refuse(session, model=type(instance), ident=ident[0] if ident and len(ident) == 1 else ident,
           foreign_region=row_region, via="load")


def _refuse_foreign_writes(session: Session, _flush_context, _instances) -> None:
    region = session.info.get(REGION_INFO_KEY)
    if region is None:
        return
    for instance in (*session.new, *session.dirty):
        if isinstance(instance, RegionBound) and instance.region is not None and instance.region != region:
            ident = inspect(instance).identity
            refuse(session, model=type(instance), ident=ident[0] if ident else "new",
                   foreign_region=instance.region, via="write")


def install_region_guard(session_factory: sessionmaker[Session], region: str, audit: AuditLog) -> None:
    """Scope every session the factory makes to ``region``; refusals go to ``audit``. Idempotent."""
    if getattr(session_factory, _GUARDED_FLAG, False):
        return
    current = session_factory.class_
    session_factory.class_ = type("RegionScopedSession", (RegionScopedSessionMixin, current), {})
    info = dict(session_factory.kw.get("info") or {})
    info.update({REGION_INFO_KEY: region, AUDIT_INFO_KEY: audit})
    session_factory.configure(info=info)
    event.listen(session_factory, "do_orm_execute", _region_criteria(region))
    event.listen(session_factory, "loaded_as_persistent", _refuse_foreign_load)
    event.listen(session_factory, "before_flush", _refuse_foreign_writes)
    setattr(session_factory, _GUARDED_FLAG, True)
