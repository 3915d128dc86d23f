"""`cascade audit verify|anchor|anchor-key`: the auditor's checks from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from grants.config import INSTANCE


def _runtime():  # type: ignore[no-untyped-def]
    from grants.runtime import runtime

    return runtime()


@click.command("verify")
@click.option(
    "--public-key",
    help="The anchors' ed25519 public key (a file, PEM or base64, or the base64 text): "
    "every anchor's signature is checked with it.",
)
@click.option(
    "--application",
    "applications",
    multiple=True,
    metavar="REF",
    help="Reconcile only this application's rows (repeatable); the chain and the anchors "
    "are always checked whole.",
)
@click.option(
    "--call", "calls", multiple=True, metavar="REF", help="Reconcile only this call's applications."
)
@with_appcontext
def verify(public_key: str | None, applications: tuple[str, ...], calls: tuple[str, ...]) -> None:
    """Recompute the hash chain, check every anchor against it and reconcile the business
    rows with the trail; exit 1 naming each problem."""
    from grants.errors import NotFound
    from grants.services import anchors, reconciliation

    rt = _runtime()
    try:
        key = anchors.load_public_key(public_key) if public_key else None
        with rt.sessions() as session:
            scope = reconciliation.scope_of(session, applications, calls)
            result = anchors.verify_everything(
                session, rt.config, public_key=key, application_ids=scope
            )
    except (anchors.AnchorError, NotFound) as exc:
        raise click.ClickException(str(exc)) from None
    chain, check, rec = result.chain, result.anchors, result.reconciliation
    if chain.ok:
        click.echo(f"OK {chain.checked} events")
    else:
        click.echo(f"BROKEN at event {chain.first_bad_id}: {chain.problem}", err=True)
    signed = (
        f", {check.signatures_checked} signatures checked"
        if check.signatures_checked
        else ", signatures not checked (no --public-key)"
        if check.checked
        else ""
    )
    click.echo(f"anchors: {check.checked} in {rt.config.anchor_file}{signed}")
    click.echo(
        f"reconciliation: {rec.rows} rows against {rec.events} events"
        + (" of the applications given" if scope is not None else "")
    )
    for problem in result.problems()[0 if chain.ok else 1 :]:
        click.echo(f"PROBLEM {problem}", err=True)
    if not result.ok:
        sys.exit(1)


@click.command("anchor")
@with_appcontext
def anchor() -> None:
    """Append the chain head (event count, last event id, its hash, UTC time) to the anchor
    file, signed when CASCADE_ANCHOR_KEY is set."""
    from grants.services import anchors

    rt = _runtime()
    try:
        with rt.sessions() as session:
            written = anchors.write_anchor(session, rt.config)
    except anchors.AnchorError as exc:
        raise click.ClickException(str(exc)) from None
    signed = "signed" if written.signature else "unsigned (CASCADE_ANCHOR_KEY is not set)"
    click.echo(
        f"anchored {written.count} events, last event {written.last_id}, hash {written.hash}, "
        f"at {anchors.iso_time(written.at)}; {signed}; appended to {rt.config.anchor_file}"
    )


@click.command("anchor-key")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=INSTANCE / "audit-anchor-key.pem",
    show_default=True,
    help="Where the private key is written (never over an existing file).",
)
def anchor_key(output: Path) -> None:
    """Generate an ed25519 key pair for signing anchors; print the public key for the
    auditor."""
    from grants.services import anchors

    try:
        public = anchors.generate_key_pair(output)
    except anchors.AnchorError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"private key written to {output} (readable by you only)")
    click.echo(f"public key (PEM) written to {output}.pub")
    click.echo(f"set CASCADE_ANCHOR_KEY={output} for `cascade audit anchor` and the worker")
    click.echo("give the auditor this public key (cascade audit verify --public-key KEY):")
    click.echo(public)


def register_audit_commands(group: click.Group) -> None:
    """The anchor commands, and `verify` in place of the chain-only one."""
    group.add_command(verify)
    group.add_command(anchor)
    group.add_command(anchor_key)
