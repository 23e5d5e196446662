"""The HTML report of an evaluation: a metrics table and plots embedded as base64 PNGs."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from openfyp.recsys.evaluation.harness import EvalResult, activity_labels


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _metric_bars(result: EvalResult, metrics: list[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = result.summary("test")
    names = list(summary)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        means = [summary[n][metric]["mean"] for n in names]
        stds = [summary[n][metric]["std"] for n in names]
        colors = ["#d1495b" if n == "openfyp" else "#5b8bd1" for n in names]
        ax.bar(names, means, yerr=stds, color=colors, capsize=3)
        ax.set_title(f"{metric} (test, mean ± std over seeds)", fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    encoded = _png(fig)
    plt.close(fig)
    return encoded


def _activity_plot(result: EvalResult) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_activity = result.ndcg_by_activity()
    labels = activity_labels()
    names = list(by_activity)
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    x = np.arange(len(labels))
    for i, name in enumerate(names):
        ax.bar(x + i * width, [by_activity[name][label] for label in labels], width, label=name)
    ax.set_xticks(x + width * (len(names) - 1) / 2, labels)
    ax.set_xlabel("training interactions of the user")
    ax.set_ylabel(f"NDCG@{result.config.ks[0]} (test)")
    ax.legend(fontsize=8, ncols=3)
    fig.tight_layout()
    encoded = _png(fig)
    plt.close(fig)
    return encoded


def render_html(result: EvalResult) -> str:
    k = result.config.ks[0]
    headline = [f"ndcg@{k}", f"recall@{k}", f"mrr@{k}", f"hit@{k}", f"precision@{k}", f"coverage@{k}",
                f"novelty@{k}"]
    summary = result.summary("test")
    rows = []
    for name, metrics in summary.items():
        cells = "".join(f"<td>{metrics[m]['mean']:.4f} ± {metrics[m]['std']:.4f}</td>" for m in headline)
        params = html.escape(str(result.runs[name][0].params))
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells}<td class='p'>{params}</td></tr>")
    header = "".join(f"<th>{m}</th>" for m in headline)
    ds = result.dataset
    bars = _metric_bars(result, [f"ndcg@{k}", f"recall@{k}"])
    activity = _activity_plot(result)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openfyp offline evaluation</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:right}}td.p{{text-align:left;font-size:11px}}
img{{max-width:100%}}</style></head><body>
<h1>Offline evaluation</h1>
<p>Protocol <b>{html.escape(result.config.protocol)}</b>, seeds {result.config.seeds},
{ds['interactions']} interactions, {ds['users']} users, {ds['items']} items; full ranking over all items;
configs chosen on validation by {html.escape(result.config.selection)}; took {result.seconds:.0f} s.</p>
<table><tr><th>model</th>{header}<th>config (first seed)</th></tr>{''.join(rows)}</table>
<h2>Test metrics</h2><img alt="metric bars" src="data:image/png;base64,{bars}">
<h2>NDCG by user activity</h2><img alt="ndcg by activity" src="data:image/png;base64,{activity}">
</body></html>"""


def write_html_report(result: EvalResult, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result), encoding="utf-8")
    return path
