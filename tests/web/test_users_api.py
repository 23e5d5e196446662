from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from openfyp.store.tables import User
from tests.conftest import signup
from tests.web.social_support import add_video, fast_user, update_row


def image_bytes(fmt: str, size=(640, 480), color=(200, 30, 30), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt)
    return out.getvalue()


def test_public_profile_with_counts_and_viewer_flags(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice = signup(client, "alice")
    bob, carol = fast_user(client, services, "bob"), fast_user(client, services, "carol")
    public_one, public_two = add_video(services, alice.id), add_video(services, alice.id)
    add_video(services, alice.id, visibility="private")
    add_video(services, alice.id, status="processing")
    bob.post("/api/users/alice/follow")
    carol.post("/api/users/alice/follow")
    alice.post("/api/users/bob/follow")
    for video in (public_one, public_two):
        bob.post(f"/api/videos/{video}/like")

    anonymous = client.get("/api/users/alice")
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert body["username"] == "alice" and body["display_name"] == "alice" and body["avatar_url"] is None
    assert body["stats"] == {"followers": 2, "following": 1, "videos": 2, "likes": 2}
    assert body["viewer"] is None
    assert "birth_date" not in body and "email" not in body

    as_bob = bob.get("/api/users/alice").json()
    assert as_bob["viewer"] == {"is_following": True, "follows_you": True, "is_blocked": False, "is_self": False}
    as_carol = carol.get("/api/users/alice").json()
    assert as_carol["viewer"]["follows_you"] is False
    own = alice.get("/api/users/alice").json()
    assert own["viewer"]["is_self"] is True and own["stats"]["videos"] == 3  # includes the private one

    assert client.get("/api/users/nobody").status_code == 404
    update_row(services, User, carol.id, deleted_at=datetime.now(UTC))
    gone = client.get("/api/users/carol")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "user_not_found"
    assert client.get("/api/users/alice").json()["stats"]["followers"] == 1


def test_edit_own_profile(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice = fast_user(client, services, "alice")
    updated = alice.patch("/api/users/me", json={"display_name": "  Alice   Liddell ", "bio": " down\r\nthe hole  "})
    assert updated.status_code == 200, updated.text
    assert updated.json()["display_name"] == "Alice Liddell" and updated.json()["bio"] == "down\nthe hole"
    assert alice.patch("/api/users/me", json={"bio": ""}).json()["bio"] == ""
    profile = client.get("/api/users/alice").json()
    assert profile["display_name"] == "Alice Liddell" and profile["bio"] == ""

    cases = [({"display_name": "   "}, 422, "display_name"), ({"display_name": "x" * 65}, 422, "display_name"),
             ({"bio": "b" * 161}, 422, "bio"), ({"bio": 5}, 422, "bio"), ({"username": "eve"}, 422, "username"),
             ({"display_name": "\x00\x01"}, 422, "display_name")]
    for body, status, field in cases:
        response = alice.patch("/api/users/me", json=body)
        assert response.status_code == status, body
        assert response.json()["error"]["field"] == field, body
    assert alice.patch("/api/users/me", json={"display_name": "y" * 64}).status_code == 200
    malformed = client.patch("/api/users/me", content=b"{", headers={**alice.headers,
                                                                      "content-type": "application/json"})
    assert malformed.status_code == 400
    assert client.patch("/api/users/me", json={"bio": "hi"}).status_code == 401


def test_avatar_is_checked_by_content_and_reencoded(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice = fast_user(client, services, "alice")

    def upload(data: bytes, name="avatar.png", content_type="image/png"):
        return alice.client.put("/api/users/me/avatar", headers=alice.headers,
                                files={"file": (name, data, content_type)})

    response = upload(image_bytes("PNG", (640, 480)), name="me.txt", content_type="text/plain")
    assert response.status_code == 200, response.text
    first_url = response.json()["avatar_url"]
    first_key = first_url.removeprefix("/media/")
    assert first_key.startswith("avatars/") and len(first_key) > 40
    with Image.open(services.media.local_path(first_key)) as stored:
        assert (stored.format, stored.size, stored.mode) == ("JPEG", (256, 256), "RGB")
    assert client.get("/api/users/alice").json()["avatar_url"] == first_url

    second = upload(image_bytes("WEBP", (300, 900), mode="RGBA", color=(0, 0, 0, 0)), name="x.jpg")
    assert second.status_code == 200
    second_key = second.json()["avatar_url"].removeprefix("/media/")
    assert second_key != first_key
    assert services.media.exists(second_key) and not services.media.exists(first_key)

    refusals = [
        (upload(b"GIF89a but not really an image", name="fake.gif", content_type="image/gif"), 422, "unsupported_image"),
        (upload(b"%PDF-1.4\n" + b"0" * 1000, name="photo.png"), 422, "unsupported_image"),
        (upload(image_bytes("BMP", (32, 32)), name="a.png"), 422, "unsupported_image"),
        (upload(b""), 422, "empty_file"),
        (upload(b"\x89PNG" + b"\x00" * (2 * 1024 * 1024)), 413, "avatar_too_large"),
        (upload(image_bytes("PNG", (9000, 9000), mode="1", color=0)), 422, "image_too_large"),
    ]
    for response, status, code in refusals:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    missing = alice.client.put("/api/users/me/avatar", headers=alice.headers, data={"nothing": "here"})
    assert missing.status_code == 422
    assert services.media.exists(second_key)  # a refused upload leaves the current avatar alone


def test_follower_and_following_lists_page_newest_first(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    fast_user(client, services, "star")
    fans = [fast_user(client, services, f"fan{i}") for i in range(5)]
    for fan in fans:
        assert fan.post("/api/users/star/follow").status_code == 200
    fans[0].post("/api/users/fan1/follow")

    names, cursor, pages = [], None, 0
    while True:
        page = fans[0].get("/api/users/star/followers", params={"limit": 2, "cursor": cursor}).json()
        names += [item["username"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == ["fan4", "fan3", "fan2", "fan1", "fan0"] and pages == 3
    first = fans[0].get("/api/users/star/followers", params={"limit": 5}).json()["items"]
    assert [i["viewer"]["is_following"] for i in first] == [False, False, False, True, False]
    assert client.get("/api/users/star/followers").json()["items"][0]["viewer"] is None
    following = client.get("/api/users/fan0/following").json()
    assert [i["username"] for i in following["items"]] == ["fan1", "star"]

    # Someone who blocked the viewer disappears from the lists the viewer reads.
    fans[2].post("/api/users/fan0/block")
    seen = [i["username"] for i in fans[0].get("/api/users/star/followers").json()["items"]]
    assert "fan2" not in seen and len(seen) == 4

    page = client.get("/api/users/star/followers", params={"limit": 2}).json()
    assert client.get("/api/users/star/following", params={"cursor": page["next_cursor"]}).status_code == 422
    tampered = page["next_cursor"][:-2] + ("AA" if not page["next_cursor"].endswith("AA") else "BB")
    assert client.get("/api/users/star/followers", params={"cursor": tampered}).status_code == 422
    assert client.get("/api/users/star/followers", params={"limit": 0}).status_code == 422
    assert client.get("/api/users/ghost/followers").status_code == 404


def test_names_no_account_can_have_are_not_found_rather_than_a_server_error(any_db_client, any_db_services):
    # PostgreSQL refuses NUL in text parameters; such a name once reached the query and failed with a 500.
    client, services = any_db_client, any_db_services
    alice = fast_user(client, services, "alice")
    for name in ("a%00b", "%00", "x" * 40, "no%20spaces"):
        for response in (client.get(f"/api/users/{name}"), client.get(f"/api/users/{name}/followers"),
                         client.get(f"/api/users/{name}/videos"), alice.post(f"/api/users/{name}/follow"),
                         alice.post(f"/api/users/{name}/block"), alice.delete(f"/api/users/{name}/block")):
            assert response.status_code == 404, (name, response.request.url, response.text)
            assert response.json()["error"]["code"] == "user_not_found"
    assert client.get("/api/users/%20ALICE%20").json()["username"] == "alice"  # still case and space tolerant
