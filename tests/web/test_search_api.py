from __future__ import annotations

from datetime import UTC, datetime

from openfyp.store.tables import User, Video
from tests.web.social_support import add_sound, add_video, fast_user, update_row

HOSTILE_QUERIES = [
    '"', '""', "'", "*", "cat*", "*cat", "NEAR", "NEAR(cat dog)", "cat NEAR dog", "(", ")", "((cat", "cat))",
    "AND", "OR", "NOT", "cat OR", "NOT cat", "-cat", "^cat", "cat:dog", "caption:cat", "{cat}", "[cat]",
    "cat & dog", "cat | dog", "!cat", "cat <-> dog", "cat:*", "\\", "%", "_", "%_%", "\x00", "🐱", "'; DROP TABLE videos; --", "cat\x00dog", "\u202ecat",
    "a" * 200, "   ", "#", "@",
]


def _seed(client, services):
    alice = fast_user(client, services, "alice", display_name="Alice Cooper")
    catlover = fast_user(client, services, "catlover", display_name="Cat Person")
    fast_user(client, services, "caterina", display_name="Caterina Valente")
    bob = fast_user(client, services, "bob", display_name="Bob")
    videos = {
        "cats": add_video(services, alice.id, "Two cats playing piano #cats #music", hashtags=("cats", "music")),
        "catnap": add_video(services, catlover.id, "A long catnap in the sun #cats", hashtags=("cats",)),
        "dogs": add_video(services, bob.id, "Dogs at the beach #dogs", hashtags=("dogs",)),
        "private": add_video(services, alice.id, "secret cats", visibility="private", hashtags=("cats",)),
        "removed": add_video(services, alice.id, "removed cats", moderation_state="removed", hashtags=("cats",)),
        "processing": add_video(services, alice.id, "processing cats", status="processing"),
        "cafe": add_video(services, bob.id, "Café au lait", hashtags=("catering",)),
    }
    return alice, catlover, bob, videos


def test_search_finds_creators_hashtags_and_videos(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, catlover, bob, videos = _seed(client, services)
    for fan in (alice, bob):
        fan.post("/api/users/catlover/follow")

    response = client.get("/api/search", params={"q": "cat"})
    assert response.status_code == 200
    body = response.json()
    assert [u["username"] for u in body["users"]][:2] == ["catlover", "caterina"]  # followers break the tie
    assert body["users"][0]["followers"] == 2 and body["users"][0]["viewer"] is None
    assert [(h["name"], h["video_count"]) for h in body["hashtags"]] == [("cats", 2), ("catering", 1)]
    assert {v["id"] for v in body["videos"]} == {videos["cats"], videos["catnap"]}
    video = body["videos"][0]
    assert {"id", "caption", "creator", "stats", "video_url", "share_url", "hashtags"} <= set(video)

    # Display names, accents and several words.
    assert [u["username"] for u in client.get("/api/search", params={"q": "cooper", "type": "users"}).json()[
        "users"]] == ["alice"]
    assert [v["id"] for v in client.get("/api/search", params={"q": "CAFÉ", "type": "videos"}).json()[
        "videos"]] == [videos["cafe"]]
    if services.engine.dialect.name == "sqlite":  # FTS5's unicode61 folds accents; PostgreSQL's "simple" does not
        assert [v["id"] for v in client.get("/api/search", params={"q": "cafe"}).json()["videos"]] == [
            videos["cafe"]]
    assert [v["id"] for v in client.get("/api/search", params={"q": "piano cats"}).json()["videos"]] == [
        videos["cats"]]
    assert client.get("/api/search", params={"q": "piano dogs"}).json()["videos"] == []
    assert [h["name"] for h in client.get("/api/search", params={"q": "#Dog", "type": "hashtags"}).json()[
        "hashtags"]] == ["dogs"]
    only_users = client.get("/api/search", params={"q": "cat", "type": "users"}).json()
    assert only_users["videos"] == [] and only_users["hashtags"] == [] and only_users["users"]

    # Signed in: is_following per creator, and nothing of an account blocked either way.
    as_alice = alice.get("/api/search", params={"q": "cat"}).json()
    assert as_alice["users"][0]["viewer"] == {"is_following": True}
    catlover.post("/api/users/alice/block")
    as_alice = alice.get("/api/search", params={"q": "cat"}).json()
    assert "catlover" not in [u["username"] for u in as_alice["users"]]
    assert [v["id"] for v in as_alice["videos"]] == [videos["cats"]]


def test_index_follows_edits_and_deletions(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    _, _, bob, videos = _seed(client, services)
    update_row(services, Video, videos["dogs"], caption="Dogs and a kitten at the beach")
    assert [v["id"] for v in client.get("/api/search", params={"q": "kitten"}).json()["videos"]] == [videos["dogs"]]
    assert client.get("/api/search", params={"q": "beach"}).json()["videos"][0]["id"] == videos["dogs"]
    update_row(services, Video, videos["dogs"], caption="Only puppies")
    assert client.get("/api/search", params={"q": "kitten"}).json()["videos"] == []

    bob.patch("/api/users/me", json={"display_name": "Robert Zimmerman"})
    assert [u["username"] for u in client.get("/api/search", params={"q": "zimmer"}).json()["users"]] == ["bob"]
    update_row(services, User, bob.id, deleted_at=datetime.now(UTC))
    assert client.get("/api/search", params={"q": "zimmer"}).json()["users"] == []
    assert client.get("/api/search", params={"q": "puppies"}).json()["videos"] == []


def test_hostile_query_strings_never_fail(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    _seed(client, services)
    # "all" runs every section's query; the single types only add paging on top.
    for query in HOSTILE_QUERIES:
        response = client.get("/api/search", params={"q": query})
        assert response.status_code == 200, (query, response.text)
        assert set(response.json()) >= {"users", "hashtags", "videos", "next_cursor"}
    for kind in ("users", "hashtags", "videos"):
        for query in ('"', "NEAR(", "cat*)", "%_\\"):
            assert client.get("/api/search", params={"q": query, "type": kind}).status_code == 200
    # Operators are plain words: "cat OR dog" means both words, not either.
    assert client.get("/api/search", params={"q": "cats OR dogs", "type": "videos"}).json()["videos"] == []
    found = client.get("/api/search", params={"q": '"cats* (piano', "type": "videos"}).json()["videos"]
    assert len(found) == 1
    assert client.get("/api/search", params={"q": "x" * 201}).status_code == 422
    assert client.get("/api/search", params={"q": "cat", "type": "everything"}).status_code == 422


def test_search_pages_with_a_cursor_bound_to_the_query(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice = fast_user(client, services, "alice")
    made = {add_video(services, alice.id, f"sunset number {i}") for i in range(5)}
    seen, cursor = [], None
    while True:
        page = client.get("/api/search", params={"q": "sunset", "type": "videos", "limit": 2,
                                                 "cursor": cursor}).json()
        seen += [v["id"] for v in page["videos"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5
    first = client.get("/api/search", params={"q": "sunset", "type": "videos", "limit": 2}).json()
    other_query = client.get("/api/search", params={"q": "sunrise", "type": "videos",
                                                    "cursor": first["next_cursor"]})
    assert other_query.status_code == 422 and other_query.json()["error"]["code"] == "invalid_cursor"


def test_hashtag_and_sound_pages(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob, carol = (fast_user(client, services, n) for n in ("alice", "bob", "carol"))
    sound = add_sound(services, alice.id, "Summer hit")
    quiet = add_video(services, alice.id, "quiet #summer", hashtags=("summer",), sound_id=sound)
    loved = add_video(services, bob.id, "loved #summer", hashtags=("summer",), sound_id=sound)
    liked = add_video(services, bob.id, "liked #summer", hashtags=("summer",))
    add_video(services, bob.id, "hidden #summer", hashtags=("summer",), visibility="followers", sound_id=sound)
    for fan in (alice, carol):
        fan.post(f"/api/videos/{loved}/like")
    carol.post(f"/api/videos/{loved}/comments", json={"body": "wow"})
    carol.post(f"/api/videos/{liked}/like")

    page = carol.get("/api/hashtags/Summer").json()
    assert page["hashtag"] == {"name": "summer", "video_count": 3}
    assert [v["id"] for v in page["items"]] == [loved, liked, quiet]
    assert page["items"][0]["viewer"]["liked"] is True
    first = client.get("/api/hashtags/%23summer", params={"limit": 2}).json()
    rest = client.get("/api/hashtags/summer", params={"cursor": first["next_cursor"]}).json()
    assert [v["id"] for v in first["items"] + rest["items"]] == [loved, liked, quiet]
    assert rest["next_cursor"] is None
    assert client.get("/api/hashtags/winter").status_code == 404
    assert client.get("/api/hashtags/%20").status_code == 404

    sound_page = client.get(f"/api/sounds/{sound}").json()
    assert sound_page["sound"]["title"] == "Summer hit" and sound_page["sound"]["video_count"] == 2
    assert sound_page["sound"]["creator"]["username"] == "alice"
    assert sound_page["sound"]["audio_url"].startswith("/media/audio/")
    assert [v["id"] for v in sound_page["items"]] == [loved, quiet]
    alice.post("/api/users/carol/block")
    assert [v["id"] for v in carol.get(f"/api/sounds/{sound}").json()["items"]] == [loved]
    assert carol.get(f"/api/sounds/{sound}").json()["sound"]["creator"] is None
    assert client.get("/api/sounds/999999").status_code == 404
    assert client.get("/api/sounds/abc").status_code == 422
