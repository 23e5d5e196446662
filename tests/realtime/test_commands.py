from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from typer.testing import CliRunner

from openfyp.events import Event, EventKind
from openfyp.realtime.wiring import checkpoint_path, realtime_of


def _cli(settings, monkeypatch, *args: str):
    from openfyp.cli import app
    from openfyp.settings import get_settings

    monkeypatch.setenv("OPENFYP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPENFYP_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("OPENFYP_SECRET_KEY", "test-secret")
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["realtime", *args])
    finally:
        get_settings.cache_clear()


def test_status_reports_the_checkpoint_against_the_log_and_reset_deletes_it(services, monkeypatch):
    settings = services.settings
    result = _cli(settings, monkeypatch, "status")
    assert result.exit_code == 0 and "no checkpoint yet" in result.output
    now = datetime.now(UTC)
    services.events.append([Event(event_id=str(uuid.uuid4()), region="us", user_id=3, video_id=4,
                                  kind=EventKind.play, client_ts=now, server_ts=now) for _ in range(3)])
    learner = realtime_of(services).learner
    learner.resume()
    learner.catch_up()
    learner.checkpoint()
    services.events.append([Event(event_id=str(uuid.uuid4()), region="us", user_id=3, video_id=4,
                                  kind=EventKind.play, client_ts=now, server_ts=now)])
    report = json.loads(_cli(settings, monkeypatch, "status", "--json").output)
    assert (report["position"], report["log_head"], report["lag"], report["base"]) == (3, 4, 1, "heuristic")
    assert _cli(settings, monkeypatch, "reset", "--yes").exit_code == 0
    assert not checkpoint_path(settings).exists()
