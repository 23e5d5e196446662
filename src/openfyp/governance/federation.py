"""Signed requests between regions: a peer proves which region it is before it gets any shared data.

A region's policy (``public_metadata_shared_with``) names the peers it shares public video metadata with;
that alone would let anyone who *claims* to be such a peer read it. So each request carries the calling
region's name, the time, and an Ed25519 signature by that region's operator key over the method, the path
with its query and both of those headers. The receiving region verifies it with the key it registered for
that peer (``openfyp federation add-peer``) and refuses (401, audit-logged) anything unsigned, signed by
another key, or older than ``MAX_CLOCK_SKEW`` (a captured request can be replayed only within that window,
and only as the same read).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from openfyp.governance.keys import KeyRing, SigningKey
from openfyp.platform.errors import NotAuthenticated
from openfyp.settings import REGION_PATTERN

REGION_HEADER = "X-Openfyp-Region"
DATE_HEADER = "X-Openfyp-Date"
SIGNATURE_HEADER = "X-Openfyp-Signature"
MAX_CLOCK_SKEW = timedelta(minutes=5)
VIDEOS_PATH = "/api/federation/videos"


class PeerNotAuthenticated(NotAuthenticated):
    def __init__(self, message: str, region: str | None = None) -> None:
        super().__init__(message, code="peer_not_authenticated")
        self.region = region


def request_statement(method: str, path_and_query: str, region: str, date: str) -> bytes:
    """The exact bytes a peer signs; versioned so the format can change without ambiguity."""
    return "\n".join(("openfyp-federation-v1", method.upper(), path_and_query, region, date)).encode()


def signed_headers(key: SigningKey, region: str, method: str, path_and_query: str,
                   now: datetime | None = None) -> dict[str, str]:
    date = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return {REGION_HEADER: region, DATE_HEADER: date,
            SIGNATURE_HEADER: key.sign(request_statement(method, path_and_query, region, date))}


def authenticate_peer(keys: KeyRing, headers: Mapping[str, str], method: str, path_and_query: str,
                      now: datetime | None = None) -> str:
    """The calling region, once its signature checks out; raises ``PeerNotAuthenticated`` otherwise."""
    region, date, signature = (headers.get(h, "") for h in (REGION_HEADER, DATE_HEADER, SIGNATURE_HEADER))
    if not (region and date and signature):
        raise PeerNotAuthenticated(f"federation requests must be signed ({REGION_HEADER}, {DATE_HEADER}, "
                                   f"{SIGNATURE_HEADER})")
    if not re.fullmatch(REGION_PATTERN, region):
        raise PeerNotAuthenticated(f"{REGION_HEADER} is not a region code")
    try:
        sent = datetime.fromisoformat(date)
    except ValueError:
        raise PeerNotAuthenticated(f"{DATE_HEADER} is not an ISO 8601 time", region) from None
    if sent.tzinfo is None or abs((now or datetime.now(UTC)) - sent) > MAX_CLOCK_SKEW:
        raise PeerNotAuthenticated(f"{DATE_HEADER} must be within {MAX_CLOCK_SKEW} of this server's clock, "
                                   "with a time zone", region)
    key = keys.peer_key(region)
    if key is None:
        raise PeerNotAuthenticated(f"no key is registered for region {region!r}", region)
    if not key.verify(request_statement(method, path_and_query, region, date), signature):
        raise PeerNotAuthenticated(f"the signature does not match region {region!r}'s registered key", region)
    return region


def fetch_peer_videos(client: httpx.Client, keys: KeyRing, own_region: str, *, after: int = 0,
                      limit: int = 100) -> dict[str, Any]:
    """One page of a peer region's public video metadata, asked for as ``own_region`` (signed by its operator)."""
    path = f"{VIDEOS_PATH}?{httpx.QueryParams({'after': after, 'limit': limit})}"
    response = client.get(path, headers=signed_headers(keys.operator_key(), own_region, "GET", path))
    response.raise_for_status()
    return response.json()
