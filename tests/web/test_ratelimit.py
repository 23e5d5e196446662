"""Write rate limits: a structured 429 with Retry-After once the budget is spent, the same budget whichever
server process a write reaches (shared through Redis when one is configured), and a fallback when Redis fails."""

from __future__ import annotations

import uuid

import pytest

from openfyp.services import build_services
from openfyp.web.ratelimit import RedisTokenBucketLimiter, TokenBucketLimiter, write_limiter_for
from tests.conftest import _client_for, make_settings
from tests.realtime.redis_support import REDIS_URL, need_redis
from tests.web.social_support import add_video, fast_user


def test_a_spent_budget_gets_a_structured_429_with_retry_after(tmp_path, _sqlite_template):
    from tests.conftest import _sqlite_copy

    settings = make_settings(tmp_path, database_url=_sqlite_copy(_sqlite_template, tmp_path),
                             write_rate_per_minute=20)  # a burst of 10
    services = build_services(settings, run_migrations=False)
    try:
        with _client_for(services) as client:
            viewer = fast_user(client, services, "busy")
            creator = fast_user(client, services, "creator")
            videos = [add_video(services, creator.id) for _ in range(12)]
            statuses = [viewer.post(f"/api/videos/{video}/like").status_code for video in videos]
            assert statuses[:10] == [200] * 10 and statuses[10:] == [429, 429], statuses
            refused = viewer.post(f"/api/videos/{videos[-1]}/like")
            assert refused.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(refused.headers["Retry-After"]) <= 4  # a token comes back every 3 s
            assert creator.post(f"/api/videos/{videos[0]}/like").status_code == 200  # a budget per person
    finally:
        services.close()


def test_several_processes_without_redis_each_allow_their_share(tmp_path):
    one = write_limiter_for(make_settings(tmp_path, write_rate_per_minute=120, web_workers=1))
    three = write_limiter_for(make_settings(tmp_path, write_rate_per_minute=120, web_workers=3))
    assert isinstance(three, TokenBucketLimiter)
    assert (one.rate, one.capacity) == (2.0, 60.0)
    assert (three.rate * 3, three.capacity * 3) == (2.0, 60.0)


def test_processes_sharing_redis_spend_one_budget(tmp_path):
    need_redis()
    import redis

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    first = RedisTokenBucketLimiter(redis.Redis.from_url(REDIS_URL), 60, burst=5, prefix=prefix)
    second = RedisTokenBucketLimiter(redis.Redis.from_url(REDIS_URL), 60, burst=5, prefix=prefix)
    waits = [limiter.take("user:1") for limiter in (first, second, first, second, first)]
    assert waits == [0.0] * 5
    assert second.take("user:1") == pytest.approx(1.0, abs=0.05)  # one token a second comes back
    assert first.take("user:2") == 0.0
    keys = first.client.keys(f"{prefix}:ratelimit:*")
    assert 0 < first.client.ttl(keys[0]) <= 6  # buckets do not outlive their refill
    first.client.delete(*keys)


def test_redis_configured_deployments_share_buckets_and_fall_back_when_it_is_gone(tmp_path):
    need_redis()
    limiter = write_limiter_for(make_settings(tmp_path, redis_url=REDIS_URL, write_rate_per_minute=60,
                                              web_workers=2))
    assert isinstance(limiter, RedisTokenBucketLimiter)
    assert limiter.capacity == 30.0  # the whole budget: every process spends from the same buckets
    import redis

    from redis.backoff import NoBackoff
    from redis.retry import Retry

    gone = RedisTokenBucketLimiter(redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0)), 60,
                                   burst=2, fallback=TokenBucketLimiter(1, burst=1))
    assert gone.take("user:1") == 0.0
    assert gone.take("user:1") > 0  # this process's share, not unlimited
    assert gone._down_until > 0  # and Redis is not asked again for a while
