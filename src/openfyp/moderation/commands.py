"""``openfyp moderation``: the queue and the keyword filters from the operator's shell.

Changes made here are audit-logged like those made through the API, with no user as the actor (the
operator of the deployment).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from openfyp.moderation import cases, filters
from openfyp.moderation.audit import admin_change
from openfyp.platform.errors import DomainError
from openfyp.settings import get_settings

moderation_app = typer.Typer(help="Trust and safety: the moderation queue and keyword filters.",
                             no_args_is_help=True)
keywords_app = typer.Typer(help="Region-wide keyword filters for comments and captions.", no_args_is_help=True)
moderation_app.add_typer(keywords_app, name="keywords")


def _services():
    from openfyp.services import build_services

    return build_services(get_settings())


def _fail(error: DomainError) -> None:
    typer.echo(f"error: {error.message} ({error.code})", err=True)
    raise typer.Exit(code=2)


@moderation_app.command("queue")
def show_queue(limit: Annotated[int, typer.Option(min=1, max=100, help="How many cases to show.")] = 20,
               as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """Open cases, most urgent first."""
    services = _services()
    try:
        with services.session_factory() as db:
            found = [cases.case_summary(c) for c in cases.queue(db, services.region, limit=limit)]
    finally:
        services.close()
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    if not found:
        typer.echo("the queue is empty")
        return
    typer.echo(f"{'case':>6}  {'priority':>10}  {'target':<16} {'reports':>7}  top reason / held by")
    for case in found:
        target = f"{case['target']['kind']}:{case['target']['id']}"
        why = case["top_reason"] or ""
        if case["held_by"]:
            why = (why + " " if why else "") + f"held by “{case['held_by']['pattern']}”"
        typer.echo(f"{case['id']:>6}  {case['priority']:>10.1f}  {target:<16} {case['report_count']:>7}  {why}")


@keywords_app.command("add")
def add_keyword(
    pattern: Annotated[str, typer.Argument(help="A word or phrase (matched whole-word, any case).")],
    scope: Annotated[filters.FilterScope, typer.Option(help="What it applies to.")] = filters.FilterScope.both,
    action: Annotated[filters.FilterAction, typer.Option(help="hold for review, or block outright.")]
    = filters.FilterAction.hold,
) -> None:
    """Add a keyword filter to this deployment's region."""
    services = _services()
    try:
        with services.session_factory() as db:
            try:
                rule = filters.add_filter(db, region=services.region, pattern=pattern, scope=scope.value,
                                          action=action.value, created_by=None)
                admin_change(db, None, what="keyword_filter", target_id=rule.id,
                             details={"change": "added", "scope": rule.scope, "action": rule.action, "via": "cli"})
                db.commit()
            except DomainError as error:
                _fail(error)
            typer.echo(f"added rule {rule.id}: “{rule.pattern}” ({rule.action} {rule.scope})")
    finally:
        services.close()


@keywords_app.command("list")
def list_keywords(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List this region's keyword filters."""
    services = _services()
    try:
        with services.session_factory() as db:
            rules = [filters.filter_out(r) for r in filters.list_filters(db, services.region)]
    finally:
        services.close()
    if as_json:
        typer.echo(json.dumps(rules, indent=2))
        return
    if not rules:
        typer.echo("no keyword filters")
    for rule in rules:
        typer.echo(f"{rule['id']:>5}  {rule['action']:<5}  {rule['scope']:<8}  {rule['pattern']}")


@keywords_app.command("remove")
def remove_keyword(rule_id: Annotated[int, typer.Argument(help="The rule's id (see `keywords list`).")]) -> None:
    """Remove a keyword filter."""
    services = _services()
    try:
        with services.session_factory() as db:
            try:
                rule = filters.remove_filter(db, region=services.region, rule_id=rule_id)
                admin_change(db, None, what="keyword_filter", target_id=rule.id,
                             details={"change": "removed", "scope": rule.scope, "action": rule.action, "via": "cli"})
                db.commit()
            except DomainError as error:
                _fail(error)
            typer.echo(f"removed rule {rule_id}")
    finally:
        services.close()


def register(app: typer.Typer) -> None:
    app.add_typer(moderation_app, name="moderation")
