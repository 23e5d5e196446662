"""Maximum-inner-product search over item embeddings with faiss.

Small catalogues use an exact flat index; from ``hnsw_min_items`` items on, an HNSW graph keeps a
query in the microseconds at a small recall cost.
"""

from __future__ import annotations

import numpy as np


class EmbeddingIndex:
    def __init__(self, item_vectors: np.ndarray, hnsw_min_items: int = 200_000, hnsw_m: int = 32) -> None:
        import faiss

        vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        self.n_items, self.dim = vectors.shape
        if self.n_items >= hnsw_min_items:
            index = faiss.IndexHNSWFlat(self.dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = 128
        else:
            index = faiss.IndexFlatIP(self.dim)
        index.add(vectors)
        self._index = index

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items with the largest inner product per query (item ``-1`` when fewer exist)."""
        k = max(0, min(int(k), self.n_items))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if k == 0 or len(queries) == 0:
            return np.zeros((len(queries), k), dtype=np.int64), np.zeros((len(queries), k), dtype=np.float32)
        scores, items = self._index.search(queries, k)
        return items.astype(np.int64), scores
