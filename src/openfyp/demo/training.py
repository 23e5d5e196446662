"""Demo training: retrain from the log, then run the release ceremony so the new model may serve.

A model serves only with the trainer's signature and the overseer's approval. The demo plays the overseer
with a key kept beside (not inside) the data directory, as a real overseer would keep theirs elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from openfyp.governance.ceremony import ensure_overseer_key, release
from openfyp.recsys.training import train
from openfyp.services import Services


def demo_overseer_folder(services: Services) -> Path:
    data_dir = services.settings.data_dir
    return data_dir.parent / f"{data_dir.name}-demo-overseer"


def train_and_promote(services: Services) -> str:
    settings = services.settings
    services.events.settle()  # training reads the events table: everything the simulation posted
    report = train(settings, services.session_factory)
    key = ensure_overseer_key(settings, demo_overseer_folder(services))
    release(settings, report.version, overseer_key=key,
            reason="demo: trained on the simulated demo audience; reviewed by the demo overseer")
    services.feed.reload()
    return report.version
