"""What the API fuzzer needs: a small real world to aim at, who it acts as, and what every response must obey.

The world is seeded straight into the database (plus real files in the media store), so path parameters
can name objects that exist as well as ones that don't. The checks are the API's error contract: no 5xx,
every 4xx is the ``{"error": {...}}`` envelope, and no response ever carries a Python traceback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import schemathesis
from schemathesis.checks import not_a_server_error

from openfyp.platform import accounts, social
from openfyp.services import Services
from openfyp.store.tables import User, Video
from tests.platform.videos_support import seed_ready_video
from tests.web.social_support import add_sound

MISSING_ID = 999_999
# After one of these answers 2xx, the account the fuzzer acts as may have lost its session or its role.
IDENTITY_CHANGING = frozenset({
    "POST /api/auth/logout",
    "PUT /api/governance/users/{user_id}/role",
    "DELETE /api/me",
})
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")
_SIGN_IN_PASSWORD_HASH = accounts.hash_password("fuzz-password-not-guessable-9f2c")


@dataclass
class Actor:
    """An account with a live bearer session; ``renew`` puts it back as it was seeded."""

    user_id: int
    username: str
    role: str
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def renew(self, services: Services) -> None:
        with services.session_factory() as db:
            user = db.get(User, self.user_id)
            assert user is not None and user.deleted_at is None, (
                f"the fuzzer deleted @{self.username}, the account it acts as; the rest of the run would be "
                "signed out, so this must not be guessable")
            user.role = self.role
            self.token = accounts.open_session(db, user, kind="bearer", days=1).token
            db.commit()


@dataclass
class FuzzWorld:
    actor: Actor  # an admin who also posts, so owner-only and staff-only routes both get past their checks
    friend: Actor
    video_ids: list[int] = field(default_factory=list)
    comment_ids: list[int] = field(default_factory=list)
    sound_ids: list[int] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    media_keys: list[str] = field(default_factory=list)


def _account(services: Services, username: str, role: str) -> Actor:
    with services.session_factory() as db:
        user = User(region=services.region, username=username, password_hash=_SIGN_IN_PASSWORD_HASH,
                    display_name=username.title(), birth_date=date(1990, 1, 1), role=role, bio="seeded")
        db.add(user)
        db.commit()
        actor = Actor(user_id=user.id, username=username, role=role)
    actor.renew(services)
    return actor


def build_world(services: Services, clip: Path, poster: Path) -> FuzzWorld:
    """Two accounts, videos in every visibility (and one failed), a sound, hashtags and a comment thread."""
    world = FuzzWorld(actor=_account(services, "fuzz_actor", "admin"),
                      friend=_account(services, "fuzz_friend", "creator"))
    sound_id = add_sound(services, world.friend.user_id, "fuzz anthem")
    world.sound_ids.append(sound_id)
    seeds = [(world.actor, "my first #fuzzing clip #openfyp", "public", {}),
             (world.actor, "just for me", "private", {}),
             (world.friend, "friends only #fuzzing", "followers", {}),
             (world.friend, "with a sound #dance", "public", {"sound_id": sound_id}),
             (world.friend, "did not transcode", "public", {"status": "failed", "failure_code": "unreadable",
                                                              "failure_reason": "not a video"})]
    for creator, caption, visibility, columns in seeds:
        world.video_ids.append(seed_ready_video(services, creator.user_id, clip, poster, caption=caption,
                                                visibility=visibility, **columns))
    world.hashtags = ["fuzzing", "openfyp", "dance"]
    with services.session_factory() as db:
        actor, friend = db.get(User, world.actor.user_id), db.get(User, world.friend.user_id)
        first = world.video_ids[0]
        top = social.add_comment(db, services, friend, first, "nice one")
        reply = social.add_comment(db, services, actor, first, "thanks!", top.comment.id)
        mine = social.add_comment(db, services, actor, world.video_ids[3], "love this sound")
        world.comment_ids = [top.comment.id, reply.comment.id, mine.comment.id]
        world.media_keys = [key for video in (db.get(Video, vid) for vid in world.video_ids[:2])
                            for key in (video.media_key, video.poster_key)]
        db.commit()
    return world


@dataclass(frozen=True)
class Depth:
    """How hard to look. ``coverage`` adds Schemathesis' coverage phase: for every parameter and property in
    turn, values past its bounds, of the wrong type or format, missing or unexpected, plus wrong content
    types and methods; ``valid_coverage`` adds its valid boundary variants too."""

    max_examples: int  # random cases per operation
    coverage: bool
    valid_coverage: bool = False


def fuzz_config(world: FuzzWorld, depth: Depth, *, seed: int) -> schemathesis.Config:
    """Deterministic generation of valid and invalid requests; half of the named path parameters are real ones."""
    def known(values: list) -> dict:
        return {"values": [*values, MISSING_ID]}

    dictionaries = {
        "videos": known(world.video_ids),
        "comments": known(world.comment_ids),
        "sounds": known(world.sound_ids),
        "user_ids": known([world.actor.user_id, world.friend.user_id]),
        "usernames": {"values": [world.actor.username, world.friend.username, "nobody_here"]},
        "hashtags": {"values": [*world.hashtags, "never_used"]},
        "media_keys": {"values": [*world.media_keys, "uploads/1/original.mp4", "videos/1/missing.mp4"]},
        # Reports, cases, keyword rules and muted words are created by the fuzzer itself as it goes.
        "small_ids": {"values": [1, 2, 3]},
    }
    bound = {"video_id": "videos", "comment_id": "comments", "sound_id": "sounds", "user_id": "user_ids",
             "username": "usernames", "name": "hashtags", "key": "media_keys", "case_id": "small_ids",
             "rule_id": "small_ids", "muted_id": "small_ids"}
    return schemathesis.Config.from_dict({
        "seed": seed,
        "suppress-health-check": ["too_slow"],
        "generation": {"mode": "all", "max-examples": depth.max_examples, "deterministic": True,
                       "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            # Every wrong method takes the same router path to a 405, so one stands for all.
            "coverage": {"enabled": depth.coverage,
                         "generation": {"mode": "all" if depth.valid_coverage else "negative"},
                         "unexpected-methods": ["TRACE"]},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "dictionaries": dictionaries,
        "parameters": {f"path.{name}": {"dictionary": dictionary, "probability": 0.5}
                       for name, dictionary in bound.items()},
    })


# ---- the checks -----------------------------------------------------------------------------------------

def error_envelope_problems(content: bytes, content_type: str) -> list[str]:
    """Why a 4xx body is not ``{"error": {"code": str, "message": str, "field": str | null, ...}}``."""
    if not content_type.startswith("application/json"):
        return [f"content type is {content_type or 'missing'}, not application/json"]
    try:
        body = json.loads(content)
    except ValueError:
        return ["the body is not JSON"]
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return ['the body is not {"error": {...}}']
    error = body["error"]
    problems = []
    for name in ("code", "message"):
        if not isinstance(error.get(name), str) or not error[name]:
            problems.append(f"error.{name} is not a non-empty string")
    if "field" not in error or not (error["field"] is None or isinstance(error["field"], str)):
        problems.append("error.field is missing or neither a string nor null")
    return problems


def client_errors_are_structured(ctx, response, case) -> None:
    if not 400 <= response.status_code < 500 or case.method.upper() == "HEAD":  # HEAD answers carry no body
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    problems = error_envelope_problems(response.content, content_type)
    if problems:
        raise AssertionError(f"{response.status_code} without the error envelope: {'; '.join(problems)}\n"
                             f"body: {response.content[:500]!r}")


def no_traceback_in_body(ctx, response, case) -> None:
    text = response.content.decode("utf-8", "replace")
    found = TRACEBACK.search(text)
    if found:
        raise AssertionError(f"the response leaks a Python traceback: {text[max(0, found.start() - 200):][:800]}")


CHECKS = [not_a_server_error, client_errors_are_structured, no_traceback_in_body]
