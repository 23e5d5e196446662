"""The one ``openfyp`` command. Each package adds its own sub-commands through a ``register(app)`` hook."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="openfyp: a self-hostable short-video platform with a sovereign For You engine.",
                  no_args_is_help=True, add_completion=False)



@app.callback()
def _root() -> None:
    """openfyp: a self-hostable short-video platform with a sovereign For You engine."""


# Modules that define ``register(app: typer.Typer) -> None``; a module that is absent is skipped so a
# partial install still starts.
COMMAND_MODULES = [
    "openfyp.web.serve_command",
    "openfyp.demo.command",
    "openfyp.recsys.eval_command",
    "openfyp.recsys.train_command",
    "openfyp.governance.commands",
    "openfyp.moderation.commands",
    "openfyp.realtime.commands",
]


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(app)


_register_all()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
