"""``openfyp eval`` end to end on a slice of MovieLens latest-small (real ratings, read from shared/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from openfyp.recsys.eval_command import register

ML_SMALL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ml-latest-small"


@pytest.fixture(scope="module")
def ratings_slice(tmp_path_factory) -> Path:
    source = ML_SMALL / "ratings.csv"
    if not source.exists():
        pytest.skip(f"MovieLens latest-small not found at {ML_SMALL}")
    kept = [line for line in source.read_bytes().split(b"\r\n") if line and int(line.split(b",")[0]) <= 80]
    path = tmp_path_factory.mktemp("ml") / "ratings.csv"
    path.write_bytes(b"\r\n".join(kept) + b"\r\n")  # same shape as the original: no header, CRLF
    return path


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test root."""

    return app


def test_eval_json_report_and_learned_models_beat_popularity(ratings_slice: Path, tmp_path: Path):
    out = tmp_path / "out"
    html = tmp_path / "report.html"
    result = CliRunner().invoke(_app(), [
        "eval", "--data", str(ratings_slice), "--format", "movielens", "--protocol", "random", "--seeds", "2020",
        "--k", "10,20", "--models", "popularity,ease,openfyp", "--json", "--out", str(out),
        "--html", str(html)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for name in ("popularity", "ease", "openfyp"):
        entry = doc[name]
        for metric in ("ndcg@10", "recall@10", "mrr@10", "hit@10", "precision@10", "coverage@10", "novelty@10",
                       "ndcg@20"):
            assert set(entry[metric]) >= {"mean", "std"}
            assert 0.0 <= entry[metric]["mean"] <= (50 if metric.startswith("novelty") else 1.0)
        assert set(entry["hyperparameters"]) == {"2020"}
    assert doc["ease"]["hyperparameters"]["2020"]["l2"] > 0
    for learned in ("ease", "openfyp"):
        assert doc[learned]["ndcg@10"]["mean"] > doc["popularity"]["ndcg@10"]["mean"]
        assert doc[learned]["recall@10"]["mean"] > doc["popularity"]["recall@10"]["mean"]
    assert doc["run"]["protocol"] == "random" and doc["run"]["dataset"]["users"] == 80
    assert json.loads((out / "results.json").read_text())["ease"] == doc["ease"]
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 2 and "openfyp" in page
    assert (out / "report.html").exists()


def test_eval_reports_bad_input_as_structured_json(tmp_path: Path):
    result = CliRunner().invoke(_app(), ["eval", "--data", str(tmp_path / "nothing.csv"), "--format", "csv",
                                         "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "not_found"
    result = CliRunner().invoke(_app(), ["eval", "--data", str(tmp_path), "--models", "ease,magic", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["field"] == "models"
