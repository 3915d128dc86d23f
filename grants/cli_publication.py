"""`cascade publish`: the supported third parties as CSV or 360Giving JSON."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import click
from flask.cli import with_appcontext


def _write_out(text: str, output: str | None) -> None:
    """To standard output, or to ``output`` whole: a failed write leaves no partial file."""
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    target = Path(output)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=target.parent or ".", delete=False
    ) as tmp:
        tmp.write(text)
    os.replace(tmp.name, target)


@click.command(
    "publish",
    help="Write the supported third parties (every awarded voucher) as CSV or as a 360Giving "
    "package, validated against the vendored 360Giving schema before it is written.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "360giving"]), default="csv", show_default=True
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="The file to write (default: standard output).",
)
@click.option("--call", "call_reference", default=None, help="Only this call (its reference).")
@click.option(
    "--public",
    is_flag=True,
    help="Only what the public list shows: vouchers whose agreement is signed.",
)
@with_appcontext
def publish(fmt: str, output: str | None, call_reference: str | None, public: bool) -> None:
    from grants.runtime import runtime
    from grants.services import publication
    from grants.services.workflow import NotFound

    rt = runtime()
    with rt.sessions() as session:
        try:
            call_id = (
                publication.call_id_by_reference(session, call_reference)
                if call_reference
                else None
            )
        except NotFound as exc:
            raise click.ClickException(str(exc)) from exc
        parties = publication.supported_third_parties(session, call_id=call_id, public=public)
    out = io.StringIO(newline="")
    if fmt == "csv":
        publication.write_csv(parties, out)
    else:
        if not parties:
            # The 360Giving package holds at least one grant.
            raise click.ClickException("no awarded voucher to publish yet, nothing written")
        package = publication.threesixtygiving_package(parties)
        problems = publication.schema_problems(package)
        if problems:
            lines = "\n".join(f"  {p.where}: {p.message}" for p in problems[:20])
            raise click.ClickException(
                f"the 360Giving package is not valid, nothing written:\n{lines}"
            )
        publication.write_json(package, out)
    _write_out(out.getvalue(), output)
    if output and output != "-":
        click.echo(f"{len(parties)} supported third parties written to {output}", err=True)
