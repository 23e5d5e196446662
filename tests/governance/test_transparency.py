"""The transparency report counts what the stores hold, and renders JSON, CSV and HTML with charts."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import pytest

from openfyp.governance.errors import InvalidInput
from openfyp.governance.transparency import build_report, parse_period, write_report
from tests.governance.conftest import plant_region
from tests.web.social_support import PASSWORD, add_video, fast_user


def _quarter(now: datetime) -> str:
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


def test_periods():
    assert parse_period("2026-Q4").start == datetime(2026, 10, 1, tzinfo=UTC)
    assert parse_period("2026-Q4").end == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_period("2026-11").end == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_period("2026-02-01:2026-02-28").end == datetime(2026, 3, 1, tzinfo=UTC)
    for bad in ("2026-13", "Q4", "2026-03-01:2026-02-01", ""):
        with pytest.raises(InvalidInput) as refused:
            parse_period(bad)
        assert refused.value.code == "invalid_period"


def test_the_report_counts_the_stores(client, services, tmp_path):
    creator = fast_user(client, services, "cara")
    reporter = fast_user(client, services, "rex")
    moderator = fast_user(client, services, "mona", role="moderator")
    second_moderator = fast_user(client, services, "mads", role="moderator")
    leaver = fast_user(client, services, "leo")
    videos = [add_video(services, creator.id, f"clip {n}") for n in range(3)]
    add_video(services, creator.id, "broken", status="failed")
    assert reporter.post("/api/me/export").status_code == 202
    assert client.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=leaver.headers).status_code == 200
    planted = plant_region(services.engine)
    assert reporter.get(f"/api/videos/{planted.video_id}").status_code == 403
    assert reporter.get("/api/feed/foryou").status_code == 200

    case_ids = []
    for video_id in videos[:2]:
        filed = reporter.post("/api/reports", json={"target_kind": "video", "target_id": video_id, "reason": "spam"})
        assert filed.status_code == 201, filed.text
        case_ids.append(filed.json()["case_id"])
    for case_id in case_ids:
        decided = moderator.post(f"/api/moderation/cases/{case_id}/decision",
                                 json={"action": "remove", "reason_code": "spam", "note": "link farm"})
        assert decided.status_code == 200, decided.text
    appealed = creator.post(f"/api/moderation/cases/{case_ids[0]}/appeal", json={"text": "it is my own shop"})
    assert appealed.status_code == 201, appealed.text
    resolved = second_moderator.post(f"/api/moderation/cases/{case_ids[0]}/appeal/resolution",
                                     json={"outcome": "overturn"})
    assert resolved.status_code == 200, resolved.text

    now = datetime.now(UTC)
    report = build_report(services, parse_period(_quarter(now)))
    assert report["uploads"]["total"] == 4 and report["uploads"]["by_status"] == {"ready": 3, "failed": 1}
    assert sum(report["uploads"]["daily"].values()) == 4
    assert report["accounts"]["created"] == 5 and report["accounts"]["deleted"] == 1
    assert report["accounts"]["active_at_end"] == 4
    assert report["data_requests"]["exports"] == 1 and report["data_requests"]["deletions"] == 1
    assert report["cross_region_refusals"]["total"] == 1
    assert report["cross_region_refusals"]["by_data_class"] == {"videos": 1}
    assert report["algorithm"]["foryou_pages"] == 1
    assert [s["pages"] for s in report["algorithm"]["served"]] == [1]
    assert report["algorithm"]["served"][0]["model_version"] == services.feed.model_version
    moderation = report["moderation"]
    assert moderation["removals"] == 2 and moderation["removal_reasons"] == {"spam": 2}
    assert moderation["appeals"] == {"filed": 1, "resolved": 1, "outcomes": {"overturned": 1}, "overturned": 1}
    assert report["audit_log"]["intact"] is True

    earlier = build_report(services, parse_period(f"{now.year - 1}-01"))
    assert earlier["uploads"]["total"] == 0 and earlier["moderation"]["removals"] == 0

    paths = write_report(report, tmp_path / "out")
    assert [p.suffix for p in paths] == [".json", ".csv", ".html"]
    assert json.loads(paths[0].read_text())["uploads"]["total"] == 4
    rows = list(csv.DictReader(paths[1].open()))
    assert {"section": "moderation", "metric": "removals", "value": "2"} in rows
    html = paths[2].read_text()
    assert html.count("data:image/png;base64,") >= 3 and "Transparency report" in html
