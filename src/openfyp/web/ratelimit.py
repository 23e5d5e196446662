"""Token buckets for write requests: one bucket per identity (a user, or a client address).

In one process the buckets are a dict (:class:`TokenBucketLimiter`). When a deployment runs several server
processes they must share them, or each process would hand out the whole budget: with a Redis server
configured (``OPENFYP_REDIS_URL``) every process of every machine spends from the same buckets in Redis
(:class:`RedisTokenBucketLimiter`, one atomic script per take, timed by the Redis server's clock); without one,
each of the N processes of ``openfyp serve --workers N`` keeps its own buckets with 1/N of the budget.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


class TokenBucketLimiter:
    def __init__(self, per_minute: float, burst: float | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(10, per_minute // 2))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, identity: str, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens; returns 0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(identity, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= cost:
                self._buckets[identity] = (tokens - cost, now)
                return 0.0
            self._buckets[identity] = (tokens, now)
            return (cost - tokens) / self.rate


# KEYS[1]: the bucket; ARGV: rate per second, capacity, cost. Returns the wait in seconds as a string (Lua
# numbers reach Python as integers otherwise). The bucket expires once it would be full again.
_TAKE_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate, capacity, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(held[1]), tonumber(held[2])
if tokens == nil then tokens, at = capacity, now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1)
return tostring(wait)
"""


class RedisTokenBucketLimiter:
    """The same buckets, kept in Redis and shared by every server process that uses the same key prefix.

    Should Redis be unreachable, a write is limited by ``fallback`` (this process's share of the budget) rather
    than refused or let through unlimited, and Redis is tried again only after ``retry_seconds``, so writes do
    not each wait for a connection that fails."""

    def __init__(self, client: Any, per_minute: float, *, burst: float | None = None, prefix: str = "openfyp",
                 fallback: TokenBucketLimiter | None = None, retry_seconds: float = 5.0) -> None:
        self.client = client
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(10, per_minute // 2))
        self.prefix = prefix
        self.fallback = fallback or TokenBucketLimiter(per_minute, burst)
        self.retry_seconds = retry_seconds
        self._take = client.register_script(_TAKE_SCRIPT)
        self._down_until = 0.0

    def take(self, identity: str, cost: float = 1.0) -> float:
        import redis

        if time.monotonic() < self._down_until:
            return self.fallback.take(identity, cost)
        try:
            return float(self._take(keys=[f"{self.prefix}:ratelimit:{identity}"],
                                    args=[self.rate, self.capacity, cost]))
        except redis.RedisError as exc:
            if not self._down_until:
                log.warning("rate limits fall back to this process's share: Redis is unreachable (%s)", exc)
            self._down_until = time.monotonic() + self.retry_seconds
            return self.fallback.take(identity, cost)


def write_limiter_for(settings: Any) -> TokenBucketLimiter | RedisTokenBucketLimiter:
    """The deployment's write limiter: shared through Redis when one is configured, else this process's share."""
    share = TokenBucketLimiter(max(1, -(-settings.write_rate_per_minute // settings.web_workers)))
    if not settings.redis_url:
        return share
    import redis

    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries: a write waits for one attempt at most, then the fallback answers (see the class).
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                  retry=Retry(NoBackoff(), 0))
    return RedisTokenBucketLimiter(client, settings.write_rate_per_minute, prefix=f"openfyp:{settings.region}",
                                   fallback=share)
