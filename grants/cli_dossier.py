"""`cascade dossier`: a voucher's (or a call's) grant dossier as a ZIP on disk."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
from flask.cli import with_appcontext


@click.command(
    "dossier",
    help="Write the grant dossier of voucher REF (or of a whole call with --call) as "
    "<REF>-dossier.zip into the current directory (or --output DIR); check it with "
    "`python3 verify_dossier.py <file>` (inside the ZIP).",
)
@click.argument("reference", required=False)
@click.option("--call", "call_reference", default=None, help="A call's reference instead.")
@click.option(
    "--output",
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path),
    default=None,
    help="The directory to write to (default: the current one).",
)
@with_appcontext
def dossier_command(reference: str | None, call_reference: str | None, output: Path | None) -> None:
    from grants.runtime import runtime
    from grants.services import dossier, staff
    from workflows.roles import Role

    if bool(reference) == bool(call_reference):
        raise click.UsageError("give a voucher reference, or --call REF (one of the two)")
    rt = runtime()
    directory = output or Path.cwd()
    directory.mkdir(parents=True, exist_ok=True)
    actor = staff.command_line(Role.AUDITOR)
    anchor = dossier.latest_anchor(rt.config)
    # Written beside the target and renamed at the end: no half-written dossier is left
    # under the final name when something fails.
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".dossier-", suffix=".zip.tmp")
    try:
        with os.fdopen(fd, "w+b") as handle:
            with rt.sessions() as session:
                try:
                    if call_reference:
                        result = dossier.write_call_dossier(
                            session, rt.storage, actor, call_reference, handle, anchor=anchor
                        )
                    else:
                        assert reference is not None
                        application = dossier.voucher_by_reference(session, actor, reference)
                        result = dossier.write_voucher_dossier(
                            session, rt.storage, actor, application.id, handle, anchor=anchor
                        )
                except dossier.DossierRefused as exc:
                    raise click.ClickException(str(exc)) from exc
            zip_sha256 = dossier.file_sha256(handle)
        with rt.sessions() as session, session.begin():
            dossier.record_issued(session, actor, result, zip_sha256)
        target = directory / result.filename
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    click.echo(
        f"{target}: {result.files} files, {result.events} audit events, "
        f"anchor at {result.anchor_count} events; sha256 {zip_sha256}"
    )
    if anchor is None:
        click.echo(
            "no anchor yet: the proof ends at the current chain head "
            "(run `cascade audit anchor` and keep a copy of the anchors elsewhere)",
            err=True,
        )
