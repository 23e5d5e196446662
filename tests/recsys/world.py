"""A small real deployment for the For You tests: users, hashtags, sounds and videos in the database,
a logged For You request the way the platform logs it, and events the way clients send them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from openfyp.events.schema import Event
from openfyp.recsys.contracts import FeedContext, FeedResult
from openfyp.store.tables import FeedRequest, Hashtag, Impression, Sound, User, Video, VideoHashtag


@dataclass
class World:
    services: object
    region: str = "us"
    users: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    sounds: dict[str, int] = field(default_factory=dict)
    videos: dict[int, dict] = field(default_factory=dict)

    def user(self, name: str, birth: date = date(1990, 1, 1)) -> int:
        with self.services.session_factory() as db:
            row = User(region=self.region, username=name, password_hash="x", birth_date=birth, display_name=name)
            db.add(row)
            db.commit()
            self.users[name] = row.id
        return row.id

    def tag(self, name: str) -> int:
        if name not in self.tags:
            with self.services.session_factory() as db:
                row = Hashtag(region=self.region, name=name)
                db.add(row)
                db.commit()
                self.tags[name] = row.id
        return self.tags[name]

    def sound(self, title: str) -> int:
        if title not in self.sounds:
            with self.services.session_factory() as db:
                row = Sound(region=self.region, title=title)
                db.add(row)
                db.commit()
                self.sounds[title] = row.id
        return self.sounds[title]

    def video(self, creator: str, tags: Iterable[str] = (), sound: str | None = None, *, age_hours: float = 1.0,
              status: str = "ready", visibility: str = "public", moderation: str = "ok", adult_only: bool = False,
              region: str | None = None, duration: float = 15.0) -> int:
        tag_ids = [self.tag(t) for t in tags]
        sound_id = self.sound(sound) if sound else None
        created = datetime.now(UTC) - timedelta(hours=age_hours)
        if region is not None and region != self.region:
            # A row of another region in the same database (as after a bad import): the region guard refuses
            # to write it through a session, so it goes in underneath, as raw SQL would.
            with self.services.engine.begin() as connection:
                result = connection.execute(Video.__table__.insert().values(
                    region=region, creator_id=self.users[creator], status=status, visibility=visibility,
                    moderation_state=moderation, adult_only=adult_only, duration_s=duration, sound_id=sound_id,
                    created_at=created, ready_at=created, caption="", upload_key=None))
                video_id = result.inserted_primary_key[0]
            self.videos[video_id] = {"creator": creator, "tags": list(tags), "sound": sound}
            return video_id
        with self.services.session_factory() as db:
            row = Video(region=region or self.region, creator_id=self.users[creator], status=status,
                        visibility=visibility, moderation_state=moderation, adult_only=adult_only,
                        duration_s=duration, sound_id=sound_id, created_at=created,
                        ready_at=created if status == "ready" else None)
            db.add(row)
            db.flush()
            for tag_id in tag_ids:
                db.add(VideoHashtag(video_id=row.id, hashtag_id=tag_id))
            db.commit()
            self.videos[row.id] = {"creator": creator, "tags": list(tags), "sound": sound}
            return row.id

    def context(self, user: str | None, *, limit: int = 10, personalised: bool = True, is_minor: bool = False,
                seen: Iterable[int] = (), request_id: str | None = None, now: datetime | None = None) -> FeedContext:
        return FeedContext(region=self.region, user_id=self.users[user] if user else None,
                           request_id=request_id or str(uuid.uuid4()), now=now or datetime.now(UTC), limit=limit,
                           personalised=personalised, is_minor=is_minor, seen_video_ids=frozenset(seen))

    def serve(self, user: str | None, **kw) -> FeedResult:
        """One For You page, logged as the platform logs it (request row with inputs, impression rows)."""
        context = self.context(user, **kw)
        result = self.services.feed.recommend(context)
        with self.services.session_factory() as db:
            db.add(FeedRequest(id=context.request_id, region=self.region, user_id=context.user_id, surface="foryou",
                               model_version=result.model_version, config_version=result.config_version,
                               personalised=context.personalised, inputs=result.logged_inputs,
                               items=[{"video_id": i.video_id, "score": i.score, "reason": i.reason.to_dict()}
                                      for i in result.items]))
            db.flush()
            for position, item in enumerate(result.items):
                db.add(Impression(region=self.region, request_id=context.request_id, user_id=context.user_id,
                                  video_id=item.video_id, position=position, score=item.score))
            db.commit()
        return result

    def events(self, user: str, video_id: int, *kinds: str, ratio: float | None = None,
               request_id: str | None = None, target_user_id: int | None = None, buffer: list | None = None) -> None:
        """Append the events now, or add them to ``buffer`` for one append later (one commit, one fsync)."""
        now = datetime.now(UTC)
        batch = [] if buffer is None else buffer
        for kind in kinds:
            watch_ratio = ratio if kind in ("watch", "skip", "complete") else None
            if kind == "complete" and watch_ratio is None:
                watch_ratio = 1.0
            batch.append(Event(event_id=str(uuid.uuid4()), region=self.region, user_id=self.users[user],
                               video_id=video_id if kind != "follow" or target_user_id is None else None,
                               target_user_id=target_user_id, kind=kind, watch_ratio=watch_ratio,
                               request_id=request_id, client_ts=now, server_ts=now))
        if buffer is None:
            self.services.events.append(batch)
            self.services.events.settle()  # the engine tails the events table

    def finish(self, user: str, video_id: int, **kw) -> None:
        self.events(user, video_id, "play", "complete", **kw)


def topic_world(world: World, *, creators: int = 6, per_topic: int = 12,
                topics: tuple[str, ...] = ("cooking", "dance", "cats", "cars")) -> dict[str, list[int]]:
    """Creators posting videos on a few topics (one hashtag and a sound per topic); video ids by topic."""
    for c in range(creators):
        world.user(f"creator{c}")
    by_topic: dict[str, list[int]] = {t: [] for t in topics}
    for i in range(per_topic * len(topics)):
        topic = topics[i % len(topics)]
        video = world.video(f"creator{i % creators}", [topic], sound=f"{topic}-beat-{i % 3}", age_hours=1 + i)
        by_topic[topic].append(video)
    world.services.feed.refresh_catalog(full=True)
    return by_topic
