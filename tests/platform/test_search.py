from __future__ import annotations

import sqlite3

import pytest
from alembic import command
from sqlalchemy import inspect

from openfyp.platform.search import fts5_expression, normalise_hashtag, query_terms, tsquery_expression
from openfyp.store.db import alembic_config, migrate


@pytest.mark.parametrize("query, terms", [
    ("Cats playing", ["cats", "playing"]),
    ('"cats* NEAR(dogs) OR -birds"', ["cats", "near", "dogs", "or", "birds"]),
    ("snake_case:col", ["snake", "case", "col"]),
    ("Café 東京 123", ["café", "東京", "123"]),
    ("*()\"'^:", []),
    ("a " * 20, ["a"] * 8),
])
def test_query_terms_keep_only_words(query, terms):
    assert query_terms(query) == terms


def test_fts5_expression_is_valid_syntax_for_any_input():
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    connection.execute("INSERT INTO t VALUES ('near the cats and dogs')")
    for query in ['NEAR(cats dogs', '"', "cats OR", "AND AND", "*", "body:cats", "cats -dogs", "(((", "^near"]:
        expression = fts5_expression(query_terms(query))
        if expression:
            connection.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()
    assert connection.execute("SELECT count(*) FROM t WHERE t MATCH ?",
                              (fts5_expression(["ca", "do"]),)).fetchone() == (1,)


def test_tsquery_expression_and_hashtags():
    assert tsquery_expression(["cat", "vid"]) == "cat:* & vid:*"
    assert normalise_hashtag("  #Summer_Vibes! ") == "summer_vibes"
    assert normalise_hashtag("#") == ""


def test_search_migration_goes_down_and_up_again(any_db_services):
    engine = any_db_services.engine
    indexes = {"sqlite": "videos_fts", "postgresql": "ix_videos_caption_fts"}[engine.dialect.name]

    def present() -> bool:
        inspector = inspect(engine)
        if engine.dialect.name == "sqlite":
            return indexes in inspector.get_table_names()
        return indexes in {i["name"] for i in inspector.get_indexes("videos")}

    assert present()
    command.downgrade(alembic_config(engine), "0001")
    assert not present()
    migrate(engine, "head")
    assert present()
