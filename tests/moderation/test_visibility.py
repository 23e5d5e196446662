"""What moderation keeps from whom: the clauses and checks the feeds, search and comment lists use."""

from __future__ import annotations

from sqlalchemy import select

from openfyp.moderation import sanctions
from openfyp.moderation.muted_words import mute
from openfyp.moderation.visibility import can_see_video, ensure_video_viewable, recommendable_clause, viewer_exclusions
from openfyp.platform.errors import NotFound
from openfyp.store.tables import Block, Comment, User, Video
from tests.moderation.helpers import api_user, follow, make_comment, make_video


def test_only_videos_in_good_standing_are_recommendable(services, client):
    alice, suspended, restricted = api_user(client, "alice"), api_user(client, "sus"), api_user(client, "res")
    ok = make_video(services, alice.id, "ok")
    states = {state: make_video(services, alice.id, state, moderation_state=state)
              for state in ("removed", "restricted", "held")}
    by_suspended = make_video(services, suspended.id, "theirs")
    by_restricted = make_video(services, restricted.id, "theirs too")
    with services.session_factory() as db:
        sanctions.impose(db, region=services.region, user_id=suspended.id, kind=sanctions.SanctionKind.suspended,
                         case_id=None)
        sanctions.impose(db, region=services.region, user_id=restricted.id,
                         kind=sanctions.SanctionKind.restricted, case_id=None)
        db.commit()
        assert set(db.scalars(select(Video.id).where(recommendable_clause()))) == {ok}
        viewer = db.get(User, alice.id)
        # Restricted content stays up for direct links; suspended accounts' content does not.
        assert can_see_video(db, db.get(Video, states["restricted"]), viewer, services.settings)
        assert can_see_video(db, db.get(Video, by_restricted), viewer, services.settings)
        assert not can_see_video(db, db.get(Video, by_suspended), viewer, services.settings)
        assert can_see_video(db, db.get(Video, by_suspended), db.get(User, suspended.id), services.settings)
        for state in ("removed", "held"):
            try:
                ensure_video_viewable(db, states[state], None, services.settings)
                raise AssertionError(f"a {state} video was viewable")
            except NotFound as missing:
                assert missing.code == "video_not_found"


def test_viewer_exclusions_agree_between_sql_and_python(services, client):
    viewer, teen, blocked, blocker, kid = (api_user(client, "viewer"), api_user(client, "teen", age=15),
                                           api_user(client, "blocked"), api_user(client, "blocker"),
                                           api_user(client, "kid", age=13))
    creator = api_user(client, "creator")
    videos = {
        "plain": make_video(services, creator.id, "a walk in the park"),
        "adult": make_video(services, creator.id, "late night", adult_only=True),
        "muted": make_video(services, creator.id, "Election results!"),
        "muted_tag": make_video(services, creator.id, "look", hashtags=("politics",)),
        "blocked": make_video(services, blocked.id, "from the blocked"),
        "blocker": make_video(services, blocker.id, "from the blocker"),
        "kid": make_video(services, kid.id, "kid stuff"),
    }
    with services.session_factory() as db:
        db.add_all([Block(blocker_id=viewer.id, blocked_id=blocked.id),
                    Block(blocker_id=blocker.id, blocked_id=viewer.id)])
        me = db.get(User, viewer.id)
        mute(db, me, "election")
        mute(db, me, "#politics")
        db.commit()

        mine = viewer_exclusions(db, me, services.settings)
        young = viewer_exclusions(db, db.get(User, teen.id), services.settings)
        anonymous = viewer_exclusions(db, None, services.settings)
        rows = {v.id: v for v in db.scalars(select(Video))}
        name = {vid: key for key, vid in videos.items()}

        def shown(exclusions, surface):
            by_sql = set(db.scalars(select(Video.id).where(exclusions.video_clause(surface))))
            by_python = {v.id for v in exclusions.keep_videos(db, [rows[i] for i in by_sql], surface)}
            everything = {v.id for v in exclusions.keep_videos(db, list(rows.values()), surface)}
            assert by_python == everything  # the SQL clause never drops what Python would keep
            return {name[i] for i in by_python}

        assert shown(mine, "foryou") == {"plain", "adult"}
        assert shown(mine, "following") == {"plain", "adult", "kid"}
        assert shown(mine, "search") == {"plain", "adult", "muted", "muted_tag", "kid"}  # muting is for feeds
        assert shown(young, "foryou") == set(videos) - {"adult"}
        assert shown(anonymous, "foryou") == set(videos) - {"adult", "kid"}

        comments = [db.get(Comment, make_comment(services, videos["plain"], creator.id, "the ELECTION was rigged")),
                    db.get(Comment, make_comment(services, videos["plain"], blocked.id, "hi")),
                    db.get(Comment, make_comment(services, videos["plain"], creator.id, "nice park"))]
        assert [c.body for c in mine.keep_comments(comments)] == ["nice park"]
        assert len(young.keep_comments(comments)) == 3


def test_the_foryou_exclusions_follow_the_follow_graph(services, client):
    adult, kid = api_user(client, "adult"), api_user(client, "kid", age=14)
    video = make_video(services, kid.id)
    with services.session_factory() as db:
        before = viewer_exclusions(db, db.get(User, adult.id), services.settings)
        assert before.hides_video(creator_id=kid.id, surface="foryou")
        assert not before.hides_video(creator_id=kid.id, surface="following")
    follow(services, adult.id, kid.id)
    with services.session_factory() as db:
        after = viewer_exclusions(db, db.get(User, adult.id), services.settings)
        assert not after.hides_video(creator_id=kid.id, surface="foryou")
        assert db.scalar(select(Video.id).where(Video.id == video, after.video_clause("foryou"))) == video
