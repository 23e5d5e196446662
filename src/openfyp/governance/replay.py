"""Replay: recompute a logged For You page from its logged inputs, with the model and ranking config that
served it, and say whether the result is identical - or exactly where it differs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openfyp.platform.errors import DomainError, NotFound


@dataclass
class ReplayReport:
    request_id: str
    identical: bool
    model_version: str | None
    config_version: str | None
    served: list[dict[str, Any]]
    replayed: list[dict[str, Any]]
    platform_dropped: int = 0
    differences: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "identical": self.identical, "model_version": self.model_version,
                "config_version": self.config_version, "served": self.served, "replayed": self.replayed,
                "platform_dropped": self.platform_dropped, "differences": self.differences}


class NotReplayable(DomainError):
    status = 409


def _engine_for(services: Any) -> Any:
    if getattr(services.feed, "replay", None) is not None:
        return services.feed
    # A bare engine can replay: it loads the logged model version and config from the artifacts on disk.
    from openfyp.recsys.engine import ForYouEngine

    return ForYouEngine(services.settings.region, settings=services.settings)


def replay_request(services: Any, request_id: str) -> ReplayReport:
    from openfyp.store.tables import FeedRequest

    with services.session_factory() as db:
        request = db.get(FeedRequest, request_id)  # a foreign request is refused by the residency guard
        if request is None:
            raise NotFound("feed_request", request_id)
        surface, inputs, served = request.surface, request.inputs, list(request.items or [])
        logged_model, logged_config = request.model_version, request.config_version
    if surface != "foryou":
        raise NotReplayable("not_replayable", f"request {request_id} is a {surface} page: it is chronological, not "
                                              "ranked, so there is nothing to recompute")
    if not inputs or "candidates" not in inputs:
        raise NotReplayable("no_logged_inputs", f"request {request_id} has no logged inputs to replay")
    try:
        result = _engine_for(services).replay(inputs)
    except DomainError:
        raise
    except Exception as exc:  # the engine's RecsysError and friends: say what could not be loaded
        code = getattr(exc, "code", "replay_failed")
        raise NotReplayable(code, f"request {request_id} cannot be replayed: {getattr(exc, 'message', exc)}") from None
    replayed = [{"video_id": r.video_id, "score": r.score, "reason": r.reason.to_dict()} for r in result.items]
    return compare(request_id, served, replayed, inputs, logged_model, logged_config,
                   result.model_version, result.config_version)


def compare(request_id: str, served: list[dict[str, Any]], replayed: list[dict[str, Any]], inputs: dict[str, Any],
            logged_model: str | None, logged_config: str | None, model_version: str | None,
            config_version: str | None) -> ReplayReport:
    differences: list[str] = []
    if model_version != logged_model:
        differences.append(f"model version: served {logged_model}, replayed {model_version}")
    if config_version != logged_config:
        differences.append(f"ranking config: served {logged_config}, replayed {config_version}")
    dropped = int(inputs.get("platform_dropped", 0) or 0)
    where = {item["video_id"]: index for index, item in enumerate(replayed)}
    previous = -1
    for item in served:
        video_id = item.get("video_id")
        index = where.get(video_id)
        position = item.get("position")
        if index is None:
            differences.append(f"position {position}: video {video_id} was served but is not in the replayed page")
            continue
        if index < previous:
            differences.append(f"position {position}: video {video_id} comes earlier in the replayed page")
        previous = max(previous, index)
        again = replayed[index]
        if item.get("score") != again["score"]:
            differences.append(f"position {position}: video {video_id} scored {item.get('score')!r} when served, "
                               f"{again['score']!r} on replay")
        if (item.get("reason") or {}) != again["reason"]:
            differences.append(f"position {position}: video {video_id}'s reason differs: served "
                               f"{item.get('reason')!r}, replayed {again['reason']!r}")
    extra = len(replayed) - len(served)
    if extra != dropped:
        differences.append(f"the replayed page has {len(replayed)} videos; {len(served)} were served and "
                           f"{dropped} dropped by the platform's re-check, so {extra - dropped} are unaccounted for")
    return ReplayReport(request_id, not differences, model_version, config_version, served, replayed, dropped,
                        differences)
