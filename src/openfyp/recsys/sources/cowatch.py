"""Co-watch, item to item: videos finished in the same viewing sessions as the videos the viewer finished.

Training (``fit_cowatch``) splits each viewer's finished watches into sessions (a gap of more than
``session_gap_minutes`` starts a new one), links videos finished close together in a session, weights each
link by how recent it is, normalises by the videos' popularity and keeps each video's strongest neighbours.
Serving sums the neighbour rows of the viewer's latest finishes, newest counting most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from openfyp.recsys.data import EventColumns
from openfyp.recsys.signals import SignalWeights
from openfyp.recsys.sources.base import (
    CandidateSource,
    SourceConfig,
    SourceRequest,
    SourceResult,
    sum_by_key,
    take_best,
)


class CoWatchConfig(SourceConfig):
    session_gap_minutes: float = Field(30.0, gt=0)
    window: int = Field(5, ge=1, le=50, description="Finishes this close in a session are linked.")
    half_life_days: float = Field(14.0, gt=0)
    neighbours: int = Field(50, ge=1, le=1000)


@dataclass
class CoWatchIndex:
    """Item-to-item co-watch weights over ``video_ids`` (CSR, row = the finished video)."""

    video_ids: np.ndarray
    matrix: sp.csr_matrix

    @property
    def pairs(self) -> int:
        return int(self.matrix.nnz)

    def neighbours_of(self, seeds: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Summed neighbour weights of seed videos (by index): (item indices, scores)."""
        if len(seeds) == 0 or self.matrix.nnz == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # Touch only the seeds' neighbour lists: summing into a dense row would cost the whole catalogue.
        matrix = self.matrix
        starts, ends = matrix.indptr[seeds], matrix.indptr[seeds + 1]
        if not (ends > starts).any():
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # The seeds' slices of the CSR arrays, one after another, without a Python loop over the seeds.
        lengths = ends - starts
        picks = np.arange(int(lengths.sum())) + (starts - (lengths.cumsum() - lengths)).repeat(lengths)
        scale = np.asarray(weights, dtype=np.float64).repeat(lengths)
        items, summed = sum_by_key(matrix.indices[picks], matrix.data[picks] * scale)
        keep = summed > 0
        return items[keep].astype(np.int64), summed[keep]


def finished_watches(events: EventColumns, weights: SignalWeights | None = None) -> EventColumns:
    """The first finish of each (viewer, video): a ``complete`` or a watch ratio at the finish threshold."""
    weights = weights or SignalWeights()
    ratio = np.nan_to_num(events.watch_ratio, nan=0.0)
    finished = (events.kind == "complete") | (np.isin(events.kind, ["watch", "skip", "replay"])
                                              & (ratio >= weights.finished_ratio))
    finished &= (events.user_id >= 0) & (events.video_id >= 0)
    done = events.take(finished)
    if len(done) == 0:
        return done
    order = np.lexsort((done.ts, done.video_id, done.user_id))
    done = done.take(order)
    first = np.ones(len(done), dtype=bool)
    first[1:] = (done.user_id[1:] != done.user_id[:-1]) | (done.video_id[1:] != done.video_id[:-1])
    return done.take(first)


def fit_cowatch(events: EventColumns, config: CoWatchConfig | None = None,
                weights: SignalWeights | None = None) -> CoWatchIndex:
    config = config or CoWatchConfig()
    done = finished_watches(events, weights)
    if len(done) < 2:
        return CoWatchIndex(np.zeros(0, dtype=np.int64), sp.csr_matrix((0, 0), dtype=np.float32))
    order = np.lexsort((done.ts, done.user_id))
    users, videos_ext, ts = done.user_id[order], done.video_id[order], done.ts[order]
    video_ids, videos = np.unique(videos_ext, return_inverse=True)
    new_session = np.ones(len(users), dtype=bool)
    new_session[1:] = (users[1:] != users[:-1]) | (ts[1:] - ts[:-1] > config.session_gap_minutes * 60.0)
    session = np.cumsum(new_session)
    newest = float(ts.max())
    decay = np.exp2(-(newest - ts) / (config.half_life_days * 86400.0))
    heads, tails, link = [], [], []
    for offset in range(1, config.window + 1):
        if offset >= len(videos):
            break
        same = session[offset:] == session[:-offset]
        a, b = videos[:-offset][same], videos[offset:][same]
        w = np.minimum(decay[:-offset][same], decay[offset:][same]) / offset
        distinct = a != b
        heads += [a[distinct], b[distinct]]
        tails += [b[distinct], a[distinct]]
        link += [w[distinct], w[distinct]]
    n = len(video_ids)
    if not heads or sum(len(h) for h in heads) == 0:
        return CoWatchIndex(video_ids, sp.csr_matrix((n, n), dtype=np.float32))
    matrix = sp.csr_matrix((np.concatenate(link), (np.concatenate(heads), np.concatenate(tails))), shape=(n, n))
    matrix.sum_duplicates()
    popularity = np.bincount(videos, minlength=n).astype(np.float64)
    # Divide by the geometric mean of the two videos' finish counts so that hits do not neighbour everything.
    coo = matrix.tocoo()
    values = coo.data / np.sqrt(popularity[coo.row] * popularity[coo.col])
    matrix = _keep_top(coo.row, coo.col, values, n, config.neighbours)
    return CoWatchIndex(video_ids, matrix)


def _keep_top(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int, k: int) -> sp.csr_matrix:
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    starts = np.searchsorted(rows, np.arange(n))
    rank = np.arange(len(rows)) - starts[rows]
    keep = rank < k
    return sp.csr_matrix((values[keep].astype(np.float32), (rows[keep], cols[keep])), shape=(n, n))


def online_cowatch(request: SourceRequest, seeds_kept: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours of the viewer's latest finishes learned online since the model's training range
    (``request.online``, see :mod:`openfyp.realtime.cowatch`); newest finish weighs 1, each older 0.85 as much."""
    viewer, online = request.viewer, request.online
    if viewer is None or online is None or not viewer.completions:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    recent = list(viewer.completions)[-seeds_kept:]
    seeds = [(video, 0.85 ** (len(recent) - 1 - i)) for i, (_, video) in enumerate(recent)]
    return online.cowatch_neighbours(seeds)


def merge_scores(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Candidate rows of two scorers with their scores summed where both propose a row."""
    if len(second[0]) == 0:
        return first
    if len(first[0]) == 0:
        return second
    return sum_by_key(np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]]))


class CoWatchSource(CandidateSource):
    name = "cowatch"
    Config = CoWatchConfig

    def __call__(self, request: SourceRequest, quota: int) -> SourceResult:
        if request.viewer is None:
            return SourceResult.empty()
        if request.models is not None:
            rows, scores = request.models.cowatch_candidates(request)
        else:
            rows, scores = online_cowatch(request)  # before any training: what was learned online
        if len(rows) == 0:
            return SourceResult.empty()
        return take_best(request, rows, scores, quota)
