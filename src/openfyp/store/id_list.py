"""``column IN <a list of ids>`` as one bound parameter, for statements built once and run on every request.

SQLAlchemy's expanding ``IN`` parameter renders and binds one placeholder per id on every execution; on a feed
page's reads (a few hundred ids across its statements) that bookkeeping cost more CPU than the queries. Here
the whole list is a single value: a JSON array read by ``json_each`` on SQLite, an ``int8[]`` compared with
``= ANY`` on PostgreSQL. Both keep the lookups on the column's index.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Boolean, String, TypeDecorator, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, coercions, roles
from sqlalchemy.sql.visitors import InternalTraversal


class IdList(TypeDecorator[Any]):
    """A list of integer ids bound as one value: a PostgreSQL array, or JSON text elsewhere."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(BigInteger))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Iterable[int] | None, dialect) -> Any:
        if value is None:
            return None
        ids = [int(v) for v in value]  # numpy integers and bools become plain ints (and valid JSON)
        if dialect.name == "postgresql":
            return ids
        return "[" + ",".join(map(str, ids)) + "]"


class _InIdList(ColumnElement[bool]):
    inherit_cache = True
    type = Boolean()
    _traverse_internals: ClassVar = [("column", InternalTraversal.dp_clauseelement),
                           ("ids", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any, ids: Any) -> None:
        self.column = coercions.expect(roles.ExpressionElementRole, column)
        self.ids = ids

    def self_group(self, against=None):
        # Already a predicate: without this, SQLite would get "(... IN ...) = 1", which no index serves.
        return self


@compiles(_InIdList)
def _in_id_list_json(element: _InIdList, compiler, **kw) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} IN (SELECT value FROM json_each({ids}))"


@compiles(_InIdList, "postgresql")
def _in_id_list_array(element: _InIdList, compiler, **kw) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY ({compiler.process(element.ids, **kw)})"


def id_list(name: str):
    """The bound parameter ``name``, to be given a list of ids at execution."""
    return bindparam(name, type_=IdList())


def in_id_list(column: Any, ids: Any) -> ColumnElement[bool]:
    """``column IN ids`` where ``ids`` is an ``id_list`` parameter (one bound value whatever the list's length)."""
    return _InIdList(column, ids)
