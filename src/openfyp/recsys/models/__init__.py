"""Recommenders and candidate sources sharing one contract (:class:`Recommender`).

Each has a Pydantic config, ``fit(train_csr, timestamps=None)``, ``score``, ``score_all`` and ``top_k``,
so the offline harness and the online For You pipeline use the same classes.
"""

from __future__ import annotations

from typing import Any

from openfyp.recsys.models.base import ModelConfig, Recommender, RecsysModelError, top_k_from_scores
from openfyp.recsys.models.covisitation import CoVisitationConfig, CoVisitationRecommender
from openfyp.recsys.models.ease import EASEConfig, EASERecommender
from openfyp.recsys.models.engine import OpenfypConfig, OpenfypRecommender
from openfyp.recsys.models.factors import ALSConfig, ALSRecommender, BPRConfig, BPRRecommender
from openfyp.recsys.models.neighbors import ItemKNNConfig, ItemKNNRecommender, RP3BetaConfig, RP3BetaRecommender
from openfyp.recsys.models.popularity import PopularityConfig, PopularityRecommender

MODELS: dict[str, type[Recommender]] = {
    cls.name: cls for cls in (PopularityRecommender, ALSRecommender, BPRRecommender, ItemKNNRecommender,
                              EASERecommender, RP3BetaRecommender, CoVisitationRecommender, OpenfypRecommender)
}


def model_class(name: str) -> type[Recommender]:
    try:
        return MODELS[name]
    except KeyError:
        raise RecsysModelError("unknown_model", f"unknown model {name!r}; known: {', '.join(MODELS)}",
                               "model") from None


def build_model(name: str, config: dict[str, Any] | None = None) -> Recommender:
    return model_class(name)(config or {})


__all__ = [
    "MODELS", "ModelConfig", "Recommender", "RecsysModelError", "build_model", "model_class", "top_k_from_scores",
    "ALSConfig", "ALSRecommender", "CoVisitationConfig", "CoVisitationRecommender", "OpenfypConfig",
    "OpenfypRecommender", "BPRConfig", "BPRRecommender", "EASEConfig", "EASERecommender",
    "ItemKNNConfig", "ItemKNNRecommender", "PopularityConfig", "PopularityRecommender", "RP3BetaConfig",
    "RP3BetaRecommender",
]
