"""``in_id_list``: a list of ids bound as one value, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, select

from openfyp.store.id_list import id_list, in_id_list


def _probe_table() -> Table:
    return Table("id_list_probe", MetaData(), Column("id", Integer, primary_key=True), Column("group_id", Integer),
                 prefixes=["TEMPORARY"])


def test_matches_exactly_the_listed_ids(database_url):
    engine = create_engine(database_url)
    table = _probe_table()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_rest: statements.append(statement))
    try:
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(table.insert(), [{"id": i, "group_id": i % 3} for i in range(1, 40)])
            by_id = select(table.c.id).where(in_id_list(table.c.id, id_list("ids"))).order_by(table.c.id)
            statements.clear()
            assert connection.scalars(by_id, {"ids": [5, np.int64(7), 7, 1000, 2]}).all() == [2, 5, 7]
            assert connection.scalars(by_id, {"ids": []}).all() == []
            assert connection.scalars(by_id, {"ids": list(range(30, 90))}).all() == list(range(30, 40))
            # Not the primary key, inside other conditions, negated.
            in_groups = select(table.c.id).where(table.c.id < 10, in_id_list(table.c.group_id, id_list("groups")))
            assert sorted(connection.scalars(in_groups, {"groups": [0, 2]})) == [2, 3, 5, 6, 8, 9]
            outside = select(table.c.id).where(table.c.id < 10, ~in_id_list(table.c.group_id, id_list("groups")))
            assert sorted(connection.scalars(outside, {"groups": [0, 2]})) == [1, 4, 7]
    finally:
        engine.dispose()
    # One statement text whatever the list's length: prepared once, no placeholder per id.
    assert len(set(statements[:3])) == 1


def test_sqlite_lookup_stays_on_the_index(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'probe.db'}")
    table = _probe_table()
    with engine.begin() as connection:
        table.create(connection)
        statement = select(table.c.id).where(in_id_list(table.c.id, id_list("ids")))
        sql = str(statement.compile(engine))
        plan = " ".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", ("[1]",)))
    engine.dispose()
    assert "= 1" not in sql  # a boolean predicate, not a value compared with true
    assert "SEARCH" in plan and "PRIMARY KEY" in plan
