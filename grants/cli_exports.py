"""`cascade export DATASET`: the data exports from the command line, streamed to a file."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from grants.services.export_formats import FORMATS
from grants.services.exports import DATASETS


@click.command(
    "export",
    help="Write a dataset (audit-events, applications, scores, awards, payments) as CSV, "
    "JSON Lines or XLSX, in bounded memory; the export is recorded in the audit trail.",
)
@click.argument("dataset", type=click.Choice(list(DATASETS)))
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="csv", show_default=True)
@click.option("--call", "call_reference", default=None, help="Only this call (its reference).")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-",
    help="File to write (default: standard output).",
)
@with_appcontext
def export_command(dataset: str, fmt: str, call_reference: str | None, output: str) -> None:
    from grants.errors import NotFound
    from grants.runtime import runtime
    from grants.services import exports, staff
    from workflows.roles import Role

    rt = runtime()
    try:
        with rt.sessions() as session, session.begin():
            started = exports.start(
                session,
                staff.command_line(Role.AUDITOR),
                dataset,
                fmt,
                call_reference=call_reference,
            )
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if output == "-":
        target = sys.stdout.buffer
        for chunk in exports.stream(rt.sessions, started):
            target.write(chunk)
        target.flush()
        return
    with open(output, "wb") as target:
        for chunk in exports.stream(rt.sessions, started):
            target.write(chunk)
    click.echo(f"{started.dataset.name} written to {output}", err=True)
