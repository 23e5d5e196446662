"""Co-watch neighbours learned online: videos finished close together in a session link up as it happens.

The trained co-watch index (:mod:`openfyp.recsys.sources.cowatch`) covers the log up to the model's training
range; this covers everything after it, so a pair of videos that viewers started finishing together an hour
ago already neighbour each other. The same rules as training: finishes within ``window`` of each other in a
session (a gap of ``session_gap_minutes`` ends one) link, nearer ones more, and serving divides a link by the
geometric mean of the two videos' finish counts so that hits do not neighbour everything.

Memory is bounded: each video keeps at most ``max_neighbours`` links (the weakest are pruned) and the
recent finishes are remembered for at most ``max_viewers`` viewers (least recently active dropped).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class OnlineCoWatchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session_gap_minutes: float = Field(30.0, gt=0)
    window: int = Field(5, ge=1, le=50)
    max_neighbours: int = Field(200, ge=1)
    max_viewers: int = Field(200_000, ge=1)


class OnlineCoWatch:
    def __init__(self, config: OnlineCoWatchConfig | None = None) -> None:
        self.config = config or OnlineCoWatchConfig()
        self.links: dict[int, dict[int, float]] = {}
        self.finishes: dict[int, float] = {}
        self._recent: OrderedDict[int, deque[tuple[float, int]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.links)

    @property
    def pairs(self) -> int:
        return sum(len(n) for n in self.links.values())

    def clear(self) -> None:
        self.links.clear()
        self.finishes.clear()
        self._recent.clear()

    def finished(self, user_id: int, video_id: int, ts: float) -> None:
        """One viewer finished one video.

        A video already among the viewer's recent finishes is not counted again (training counts a pair's
        first finish only; online, "first" is judged within the remembered window, which keeps memory flat).
        """
        recent = self._recent.get(user_id)
        if recent is not None and any(video == video_id for _, video in recent):
            return
        self.finishes[video_id] = self.finishes.get(video_id, 0.0) + 1.0
        if recent is None:
            recent = deque(maxlen=self.config.window)
            self._recent[user_id] = recent
            if len(self._recent) > self.config.max_viewers:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(user_id)
        gap = self.config.session_gap_minutes * 60.0
        if recent and ts - recent[-1][0] > gap:
            recent.clear()
        for distance, (_, other) in enumerate(reversed(recent), start=1):
            if other != video_id:
                self._link(video_id, other, 1.0 / distance)
                self._link(other, video_id, 1.0 / distance)
        recent.append((ts, video_id))

    def _link(self, a: int, b: int, weight: float) -> None:
        neighbours = self.links.setdefault(a, {})
        neighbours[b] = neighbours.get(b, 0.0) + weight
        if len(neighbours) > 2 * self.config.max_neighbours:
            kept = sorted(neighbours.items(), key=lambda kv: (-kv[1], kv[0]))[: self.config.max_neighbours]
            self.links[a] = dict(kept)

    def neighbours_of(self, seeds: Iterable[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Summed normalised link weights of the seeds' neighbours: (video ids, scores), unordered."""
        scores: dict[int, float] = {}
        for seed, weight in seeds:
            neighbours = self.links.get(seed)
            if not neighbours:
                continue
            seed_count = self.finishes.get(seed, 1.0)
            for other, link in neighbours.items():
                norm = math.sqrt(seed_count * self.finishes.get(other, 1.0))
                scores[other] = scores.get(other, 0.0) + weight * link / norm
        if not scores:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        ids = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        return ids, values

    # ---- snapshots -----------------------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        heads = [a for a, n in self.links.items() for _ in n]
        tails = [b for n in self.links.values() for b in n]
        weights = [w for n in self.links.values() for w in n.values()]
        recent_users = [u for u, r in self._recent.items() for _ in r]
        recent_ts = [t for r in self._recent.values() for t, _ in r]
        recent_videos = [v for r in self._recent.values() for _, v in r]
        return {
            "cowatch_heads": np.array(heads, dtype=np.int64), "cowatch_tails": np.array(tails, dtype=np.int64),
            "cowatch_weights": np.array(weights, dtype=np.float64),
            "cowatch_finish_ids": np.array(list(self.finishes), dtype=np.int64),
            "cowatch_finish_counts": np.array(list(self.finishes.values()), dtype=np.float64),
            "cowatch_recent_users": np.array(recent_users, dtype=np.int64),
            "cowatch_recent_ts": np.array(recent_ts, dtype=np.float64),
            "cowatch_recent_videos": np.array(recent_videos, dtype=np.int64),
        }

    def restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.clear()
        for a, b, w in zip(arrays["cowatch_heads"].tolist(), arrays["cowatch_tails"].tolist(),
                           arrays["cowatch_weights"].tolist()):
            self.links.setdefault(a, {})[b] = w
        self.finishes = dict(zip(arrays["cowatch_finish_ids"].tolist(), arrays["cowatch_finish_counts"].tolist()))
        for user, ts, video in zip(arrays["cowatch_recent_users"].tolist(), arrays["cowatch_recent_ts"].tolist(),
                                   arrays["cowatch_recent_videos"].tolist()):
            recent = self._recent.get(user)
            if recent is None:
                recent = self._recent[user] = deque(maxlen=self.config.window)
            recent.append((ts, video))
