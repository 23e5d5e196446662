"""``openfyp keys|oversight|audit|report|roles|federation``: the operator's and the overseer's command line.

Every command that fails prints ``error <code>: <message>`` and exits non-zero, so scripts can rely on it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

import typer

from openfyp.governance.audit import AuditLog, ChainHead
from openfyp.governance.canonical import canonical_json
from openfyp.governance.errors import DomainError
from openfyp.governance.keys import OPERATOR, OVERSEER, TRAINER, KeyRing, create_overseer_keypair, load_private_key
from openfyp.settings import Settings, get_settings

keys_app = typer.Typer(help="Signing keys: the operator's and trainer's, and the overseers' public keys.",
                       no_args_is_help=True)
oversight_app = typer.Typer(help="Review, approve or reject model versions and ranking configs.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log, and replay of served For You pages.",
                        no_args_is_help=True)
report_app = typer.Typer(help="Reports built from the stores.", no_args_is_help=True)
roles_app = typer.Typer(help="Grant roles (audit-logged).", no_args_is_help=True)
federation_app = typer.Typer(help="Peer regions: trust their keys, pull their public video metadata.",
                             no_args_is_help=True)


def _fail(code: str, message: str, exit_code: int = 2) -> None:
    typer.echo(f"error {code}: {message}", err=True)
    raise typer.Exit(exit_code)


def _friendly(command: Callable) -> Callable:
    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DomainError as exc:
            _fail(exc.code, exc.message)
        except Exception as exc:  # RecsysError and other coded errors from the engine
            code = getattr(exc, "code", None)
            if code is None:
                raise
            _fail(str(code), str(getattr(exc, "message", exc)))

    return run


def _settings() -> Settings:
    return get_settings()


def _services():
    from openfyp.services import build_services

    return build_services(_settings())


def _audit(settings: Settings) -> tuple[AuditLog, Any]:
    """The audit log without building the whole deployment (no feed engine needed to sign a release)."""
    from openfyp.store import make_engine, migrate

    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    return AuditLog(engine, settings.region, settings.resolved_secret_key()), engine


def _audit_key_registered(settings: Settings, target_kind: str, key_id: str, details: dict[str, Any]) -> None:
    from openfyp.governance.audit import AuditAction, AuditRecord

    audit, engine = _audit(settings)
    try:
        audit.append(AuditRecord(action=AuditAction.key_registered.value, target_kind=target_kind,
                                 target_id=key_id, details=details))
    finally:
        engine.dispose()


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


# ---- keys ---------------------------------------------------------------------------------------------------
@keys_app.command("init")
@_friendly
def keys_init() -> None:
    """Create this deployment's operator key (and its trainer key, if missing)."""
    settings = _settings()
    keys = KeyRing(settings)
    operator = keys.init_operator()
    trainer = keys.trainer_key(create=True)
    typer.echo(f"operator key {operator.key_id} in {settings.keys_dir}")
    typer.echo(f"trainer key  {trainer.key_id}")


@keys_app.command("overseer-new")
@_friendly
def keys_overseer_new(out: Path = typer.Option(..., "--out", help="Folder the overseer keeps (not on this server).")
                      ) -> None:
    """Create an overseer key pair in OUT and register its public half with this deployment."""
    settings = _settings()
    private_path, public = create_overseer_keypair(out, settings)
    _audit_key_registered(settings, "overseer_key", public.key_id, {"role": OVERSEER})
    typer.echo(f"overseer key {public.key_id}: private key {private_path} (keep it off this server)")


@keys_app.command("register-overseer")
@_friendly
def keys_register_overseer(public_key: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Register an overseer's public key (PEM) made elsewhere."""
    settings = _settings()
    public = KeyRing(settings).register_overseer(public_key.read_bytes())
    _audit_key_registered(settings, "overseer_key", public.key_id, {"role": OVERSEER})
    typer.echo(f"registered overseer key {public.key_id}")


@keys_app.command("list")
@_friendly
def keys_list() -> None:
    settings = _settings()
    keys = KeyRing(settings)
    for role in (OPERATOR, TRAINER):
        public = keys.own_public(role)
        typer.echo(f"{role:9} {public.key_id if public else '(none)'}")
    for key_id in keys.overseer_keys():
        typer.echo(f"overseer  {key_id}")
    for region in keys.peer_regions():
        typer.echo(f"peer      {keys.peer_key(region).key_id} (region {region})")


@federation_app.command("add-peer")
@_friendly
def federation_add_peer(region: str = typer.Argument(..., help="The peer's region code, e.g. eu."),
                        public_key: Path = typer.Argument(..., exists=True, dir_okay=False,
                                                          help="The peer's operator.pub (PEM).")) -> None:
    """Trust a peer region's operator key to sign its federation requests (sharing also needs the policy)."""
    import re

    from openfyp.settings import REGION_PATTERN

    if not re.fullmatch(REGION_PATTERN, region):
        _fail("invalid_region", f"{region!r} is not a region code such as 'eu'")
    settings = _settings()
    public = KeyRing(settings).register_peer(region, public_key.read_bytes())
    _audit_key_registered(settings, "peer_key", public.key_id, {"role": "peer", "region": region})
    shared = region in settings.public_metadata_shared_with
    typer.echo(f"registered region {region}'s key {public.key_id}"
               + ("" if shared else " (not shared with yet: add it to OPENFYP_PUBLIC_METADATA_SHARED_WITH)"))


@federation_app.command("pull")
@_friendly
def federation_pull(url: str = typer.Argument(..., help="The peer deployment's base URL."),
                    after: int = typer.Option(0, "--after", min=0), limit: int = typer.Option(100, "--limit", min=1,
                                                                                            max=500)) -> None:
    """Fetch one page of a peer region's public video metadata, signed as this region; prints JSON."""
    import httpx

    from openfyp.governance.federation import fetch_peer_videos

    settings = _settings()
    try:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            page = fetch_peer_videos(client, KeyRing(settings), settings.region, after=after, limit=limit)
    except httpx.HTTPStatusError as exc:
        try:
            error = exc.response.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = {"code": f"http_{exc.response.status_code}", "message": exc.response.text[:200]}
        _fail(error.get("code", "refused"), error.get("message", ""))
    except httpx.HTTPError as exc:
        _fail("peer_unreachable", str(exc))
    _print_json(page)


# ---- oversight ------------------------------------------------------------------------------------------------
def _book(settings: Settings, audit: AuditLog | None = None):
    from openfyp.governance.releases import ReleaseBook

    return ReleaseBook(settings, audit)


@oversight_app.command("list")
@_friendly
def oversight_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every model version and ranking config, and whether it may go live."""
    from openfyp.recsys.artifacts import current_version

    settings = _settings()
    statuses = _book(settings).overview()
    current = current_version(settings)
    if as_json:
        _print_json({"current_model": current, "items": [s.to_dict() for s in statuses]})
        return
    for status in statuses:
        subject = status.subject
        marker = "*" if subject.kind.value == "model" and subject.version == current else " "
        overseer = status.overseer
        note = f"  ({overseer.decision}: {overseer.reason})" if overseer else ""
        problems = f"  [{'; '.join(status.problems)}]" if status.problems else ""
        typer.echo(f"{marker} {subject.kind.value:6} {subject.version:40} {status.state.value:18} "
                   f"{subject.digest[:12]}{note}{problems}")


@oversight_app.command("diff")
@_friendly
def oversight_diff(a: str, b: str, kind: str | None = typer.Option(None, "--kind")) -> None:
    """What changed from A to B: config changes, metric changes, manifest changes."""
    from openfyp.governance.diffing import diff_subjects

    book = _book(_settings())
    _print_json(diff_subjects(book.find(a, kind), book.find(b, kind)))


@oversight_app.command("propose")
@_friendly
def oversight_propose(version: str, reason: str = typer.Option("", "--reason"),
                      kind: str | None = typer.Option(None, "--kind")) -> None:
    """Sign VERSION with the operator key: the operator's half of the release."""
    settings = _settings()
    audit, engine = _audit(settings)
    try:
        book = _book(settings, audit)
        subject = book.find(version, kind)
        book.propose(subject, reason=reason)
        typer.echo(f"{subject.kind.value} {subject.version}: {book.status(subject).state.value}")
    finally:
        engine.dispose()


def _overseer_decision(version: str, decision: str, reason: str, key: Path | None, kind: str | None) -> None:
    from openfyp.governance.releases import overseer_sign

    settings = _settings()
    audit, engine = _audit(settings)
    try:
        book = _book(settings, audit)
        subject = book.find(version, kind)
        key_id = signature = None
        if key is not None:
            signing = load_private_key(key, OVERSEER)
            key_id, signature = signing.key_id, overseer_sign(signing, subject, decision, reason)
        book.overseer_decide(subject, decision, reason=reason, key_id=key_id, signature=signature)
        typer.echo(f"{subject.kind.value} {subject.version}: {book.status(subject).state.value}")
    finally:
        engine.dispose()


@oversight_app.command("approve")
@_friendly
def oversight_approve(version: str, key: Path = typer.Option(..., "--key", help="The overseer's private key."),
                      reason: str = typer.Option(..., "--reason"),
                      kind: str | None = typer.Option(None, "--kind")) -> None:
    """The overseer signs VERSION off (their key stays on their machine; only the signature is stored)."""
    _overseer_decision(version, "approve", reason, key, kind)


@oversight_app.command("reject")
@_friendly
def oversight_reject(version: str, reason: str = typer.Option(..., "--reason"),
                     key: Path | None = typer.Option(None, "--key"),
                     kind: str | None = typer.Option(None, "--kind")) -> None:
    """The overseer rejects VERSION; it cannot go live until approved again."""
    _overseer_decision(version, "reject", reason, key, kind)


@oversight_app.command("statement")
@_friendly
def oversight_statement(version: str, decision: str = typer.Option("approve", "--decision"),
                        reason: str = typer.Option("", "--reason"),
                        kind: str | None = typer.Option(None, "--kind")) -> None:
    """Print the exact statement a signature covers (to sign it elsewhere with ``sign-statement``)."""
    subject = _book(_settings()).find(version, kind)
    sys.stdout.write(subject.statement(decision, reason).decode() + "\n")


@oversight_app.command("sign-statement")
@_friendly
def oversight_sign_statement(statement: Path = typer.Argument(..., exists=True, dir_okay=False),
                             key: Path = typer.Option(..., "--key")) -> None:
    """Offline: sign a statement file with an overseer key; prints ``key_id signature``."""
    signing = load_private_key(key, OVERSEER)
    text = statement.read_text().rstrip("\n").encode()
    typer.echo(f"{signing.key_id} {signing.sign(text)}")


@oversight_app.command("check")
@_friendly
def oversight_check(version: str) -> None:
    """Would VERSION be allowed to serve? Prints why not."""
    from openfyp.governance.serving import check_servable
    from openfyp.recsys.artifacts import load_artifact

    settings = _settings()
    check_servable(settings, load_artifact(settings, version))
    typer.echo(f"model {version} may serve")


# ---- audit -----------------------------------------------------------------------------------------------------
def signed_head(audit: AuditLog, keys: KeyRing) -> dict[str, Any]:
    """The audit head for an outside party to keep; signed with the operator key when there is one."""
    head = audit.head() or ChainHead(audit.region, 0, "0" * 64)
    out: dict[str, Any] = {**head.to_dict(), "exported_at": datetime.now(UTC).isoformat()}
    if keys.has(OPERATOR):
        key = keys.operator_key()
        out["operator_key_id"] = key.key_id
        out["signature"] = key.sign(canonical_json(head.to_dict()))
    return out


@audit_app.command("verify")
@_friendly
def audit_verify(head: Path | None = typer.Option(None, "--head", help="A head exported earlier (JSON).")) -> None:
    """Check the whole chain; name the first entry that was edited, removed, inserted or reordered."""
    settings = _settings()
    held = ChainHead.from_dict(json.loads(head.read_text())) if head else None
    audit, engine = _audit(settings)
    try:
        report = audit.verify(held)
    finally:
        engine.dispose()
    if report.ok:
        typer.echo(f"ok: {report.message}")
        return
    typer.echo(f"FAILED at entry {report.first_bad_seq} ({report.problem}): {report.message}", err=True)
    raise typer.Exit(1)


@audit_app.command("head")
@_friendly
def audit_head(out: Path | None = typer.Option(None, "--out")) -> None:
    """Export the chain's head (seq and hash) for an outside party to hold."""
    settings = _settings()
    audit, engine = _audit(settings)
    try:
        data = signed_head(audit, KeyRing(settings))
    finally:
        engine.dispose()
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if out:
        out.write_text(text)
        typer.echo(f"head {data['seq']} {data['entry_hash']} written to {out}")
    else:
        sys.stdout.write(text)


@audit_app.command("replay")
@_friendly
def audit_replay(request_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Recompute a served For You page from its logged inputs; exit 1 if it differs."""
    from openfyp.governance.replay import replay_request

    services = _services()
    try:
        report = replay_request(services, request_id)
    finally:
        services.close()
    if as_json:
        _print_json(report.to_dict())
    elif report.identical:
        typer.echo(f"identical: request {request_id} recomputes to the same {len(report.served)} videos "
                   f"(model {report.model_version}, config {report.config_version})")
    else:
        typer.echo(f"DIFFERENT: request {request_id}", err=True)
        for line in report.differences:
            typer.echo(f"  - {line}", err=True)
    if not report.identical:
        raise typer.Exit(1)


@audit_app.command("log")
@_friendly
def audit_log(after: int = typer.Option(0, "--after"), limit: int = typer.Option(50, "--limit"),
              action: str | None = typer.Option(None, "--action")) -> None:
    """Print audit entries as JSON lines."""
    audit, engine = _audit(_settings())
    try:
        for entry in audit.entries(after=after, limit=limit, action=action):
            typer.echo(json.dumps(entry.to_dict(), sort_keys=True, default=str))
    finally:
        engine.dispose()


# ---- reports ---------------------------------------------------------------------------------------------------
@report_app.command("transparency")
@_friendly
def report_transparency(period: str = typer.Option(..., "--period", help="2026-Q4, 2026-11 or START:END"),
                        out: Path = typer.Option(Path("transparency"), "--out")) -> None:
    """Write the transparency report (JSON, CSV and an HTML page with charts) for PERIOD."""
    from openfyp.governance.transparency import build_report, parse_period, write_report

    services = _services()
    try:
        report = build_report(services, parse_period(period))
    finally:
        services.close()
    paths = write_report(report, out)
    for path in paths:
        typer.echo(str(path))


# ---- roles -------------------------------------------------------------------------------------------------------
@roles_app.command("grant")
@_friendly
def roles_grant(username: str, role: str, reason: str = typer.Option(..., "--reason")) -> None:
    """Give USERNAME the ROLE (viewer, creator, moderator, admin, overseer); audit-logged as the operator."""
    from sqlalchemy import select

    from openfyp.governance import audit
    from openfyp.governance.audit import AuditAction
    from openfyp.platform.errors import InvalidInput, NotFound
    from openfyp.store.tables import Role, User

    if role not in {r.value for r in Role}:
        raise InvalidInput("invalid_role", f"roles are {', '.join(r.value for r in Role)}", "role")
    services = _services()
    try:
        with services.session_factory() as db:
            user = db.scalar(select(User).where(User.username == username.lower(), User.deleted_at.is_(None)))
            if user is None:
                raise NotFound("user", username)
            previous, user.role = user.role, role
            audit.record(db, AuditAction.role_change, target_kind="user", target_id=user.id, justification=reason,
                         details={"from": previous, "to": role, "via": "cli"})
            db.commit()
    finally:
        services.close()
    typer.echo(f"{username}: {previous} -> {role}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(oversight_app, name="oversight")
    app.add_typer(audit_app, name="audit")
    app.add_typer(report_app, name="report")
    app.add_typer(roles_app, name="roles")
    app.add_typer(federation_app, name="federation")
