"""Offline evaluation: protocols (splits), metrics, the model comparison harness and its report."""

from openfyp.recsys.evaluation.harness import EvalConfig, EvalResult, run_evaluation
from openfyp.recsys.evaluation.metrics import evaluate_top_k
from openfyp.recsys.evaluation.splits import Split, random_split, recbole_split_sizes, temporal_split

__all__ = ["EvalConfig", "EvalResult", "Split", "evaluate_top_k", "random_split", "recbole_split_sizes",
           "run_evaluation", "temporal_split"]
