"""Filters: the hard rules every candidate must pass, cheapest first, each counted when it drops something.

Unlike scores, filters are never traded off: a seen video, a video of a blocked creator, a video the viewer
said "not interested" to (or whose creator or sound they dismissed), a video that is not ready, public and
in good standing, a video of another region, or an adult-only video for a minor is never recommended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from openfyp.recsys.sources.base import member_of
from openfyp.recsys.state import Catalog, ViewerRelations


@dataclass
class FilterInput:
    catalog: Catalog
    region: str
    seen_video_ids: frozenset[int] | set[int]
    relations: ViewerRelations
    is_minor: bool


def _in(values: np.ndarray, members: frozenset[int] | set[int]) -> np.ndarray:
    return member_of(values, members)


def not_recommendable(rows: np.ndarray, inp: FilterInput) -> np.ndarray:
    return inp.catalog.eligible[rows]


def other_region(rows: np.ndarray, inp: FilterInput) -> np.ndarray:
    # The catalog only ever holds its own region's videos; a catalog of another region serves nothing.
    return np.full(len(rows), inp.catalog.region == inp.region)


def minor_safety(rows: np.ndarray, inp: FilterInput) -> np.ndarray:
    if not inp.is_minor:
        return np.ones(len(rows), dtype=bool)
    return ~inp.catalog.adult_only[rows]


def seen(rows: np.ndarray, inp: FilterInput) -> np.ndarray:
    return ~_in(inp.catalog.video_ids[rows], inp.seen_video_ids)


def blocked_creator(rows: np.ndarray, inp: FilterInput) -> np.ndarray:
    return ~_in(inp.catalog.creator_ids[rows], inp.relations.blocked_creators)


def not_interested(rows: np.ndarray, inp: FilterInput) -> np.ndarray:
    rel = inp.relations
    return ~(_in(inp.catalog.video_ids[rows], rel.not_interested_videos)
             | _in(inp.catalog.creator_ids[rows], rel.not_interested_creators)
             | _in(inp.catalog.sound_ids[rows], rel.not_interested_sounds))


CandidateFilter = Callable[[np.ndarray, FilterInput], np.ndarray]

# Cheapest first: array lookups before set membership tests.
FILTERS: list[tuple[str, CandidateFilter]] = [
    ("other_region", other_region),
    ("not_recommendable", not_recommendable),
    ("minor_safety", minor_safety),
    ("blocked_creator", blocked_creator),
    ("not_interested", not_interested),
    ("seen", seen),
]


def apply_filters(rows: np.ndarray, inp: FilterInput,
                  filters: list[tuple[str, CandidateFilter]] | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """The kept rows (order preserved) and how many each filter dropped."""
    dropped: dict[str, int] = {}
    live = rows
    for name, rule in filters or FILTERS:
        if len(live) == 0:
            break
        keep = rule(live, inp)
        kept = int(np.count_nonzero(keep))
        if kept < len(live):  # most rules drop nothing for most requests: then the rows stay as they are
            dropped[name] = len(live) - kept
            live = live[keep]
    return live, dropped
