"""Embedding retrieval: the viewer's vector against every video's vector, through an approximate index.

Small catalogues use an exact inner-product index. From ``ivf_min_items`` vectors on, an inverted-file index
(k-means cells, ``nprobe`` cells searched per query) makes a search cost a few thousand dot products whatever
the catalogue size. Vectors are added as videos arrive, so a new upload is retrievable at once through its
cold-start vector (the mean of its hashtags', sound's and creator's learned vectors).
"""

from __future__ import annotations

import math
import os

import numpy as np
from pydantic import Field

from openfyp.recsys.sources.base import (
    CandidateSource,
    SourceConfig,
    SourceRequest,
    SourceResult,
    take_best,
)


class VectorIndex:
    """Maximum inner product search over row-numbered vectors, growing by ``add``."""

    def __init__(self, dim: int, training_vectors: np.ndarray, *, ivf_min_items: int = 50_000,
                 nprobe: int = 12, seed: int = 0) -> None:
        import faiss

        self.dim = dim
        self.count = 0
        n = len(training_vectors)
        if n >= ivf_min_items:
            nlist = int(min(4096, max(64, math.sqrt(n))))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = training_vectors
            if n > nlist * 40:
                pick = np.random.default_rng(seed).choice(n, nlist * 40, replace=False)
                sample = training_vectors[np.sort(pick)]
            index.cp.seed = seed
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
            index.nprobe = nprobe
            self.kind = f"ivf{nlist}"
            self._index = index
            self._quantizer = quantizer  # faiss does not own it from Python; keep it alive
        else:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            self.kind = "flat"

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        if len(rows) == 0:
            return
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(rows, dtype=np.int64))
        self.count += len(rows)

    def replace(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Swap the vectors of rows (the online learner moves videos' vectors; new rows are just added)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return
        self.count -= int(self._index.remove_ids(rows))
        self.add(rows, vectors)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        if self.count == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # One query is microseconds of work; OpenMP threads would spin and, on a busy machine, wait for
        # cores far longer than the search itself takes.
        faiss.omp_set_num_threads(1)
        scores, rows = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                                          int(min(k, self.count)))
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep].astype(np.float64)


class EmbeddingConfig(SourceConfig):
    overfetch: int = Field(2, ge=1, le=20)


class EmbeddingSource(CandidateSource):
    name = "embedding"
    Config = EmbeddingConfig

    def __call__(self, request: SourceRequest, quota: int) -> SourceResult:
        if request.models is None:
            return SourceResult.empty()
        vector = request.user_vector()
        if vector is None:
            return SourceResult.empty()
        rows, scores = request.models.index.search(vector, quota * self.config.overfetch
                                                   + min(len(request.exclude_video_ids), 1000))
        return take_best(request, rows, scores, quota)
