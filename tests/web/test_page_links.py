"""Shared links to pages (``/v/<id>``, ``/@<name>``) that point at nothing still load the app shell."""

from __future__ import annotations


def test_links_to_impossible_videos_and_names_load_the_plain_shell(any_db_client):
    # A share link past 64 bits once crashed SQLite's lookup, and a NUL in a name PostgreSQL's: both were 500s.
    for path in ("/v/99999999999999999999999", "/v/2147483648", "/@a%00b", "/@" + "x" * 300):
        page = any_db_client.get(path)
        assert page.status_code == 200, (path, page.text[:200])
        assert page.headers["content-type"].startswith("text/html")
        assert 'property="og:title"' not in page.text  # no preview for what does not exist
