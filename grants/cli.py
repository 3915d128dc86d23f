"""The `cascade` command: Flask's CLI with the project's own commands."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from grants.cli_audit import register_audit_commands
from grants.config import ROOT


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def _runtime():  # type: ignore[no-untyped-def]
    from grants.runtime import runtime

    return runtime()


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply every migration (creates the database if needed).")
@with_appcontext
def db_upgrade() -> None:
    rt = _runtime()
    if rt.config.database_url.startswith("sqlite:///"):
        Path(rt.config.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    command.upgrade(alembic_config(rt.config.database_url), "head")
    click.echo("database is at the latest revision")


@click.command("demo", help="Load the LEVIATAD demo (running it twice changes nothing).")
@with_appcontext
def demo() -> None:
    from grants.demo import load_demo
    from grants.services.documents import drain

    rt = _runtime()
    created = load_demo(rt.sessions, rt.storage)
    result = drain(rt.sessions, rt.storage)
    click.echo(
        f"demo {'loaded' if created else 'already present'}; "
        f"{result.rendered} documents rendered, {result.failed} failed"
    )
    from grants.demo import DEMO_PASSWORD, DEMO_USERS

    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, name, role, _country in DEMO_USERS:
        click.echo(f"  {role:<10} {email:<34} {name}")


@click.command("worker", help="Render pending documents and send queued e-mail until stopped.")
@click.option("--once", is_flag=True, help="Drain what is pending, then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Processes rendering PDFs (default: CASCADE_RENDER_PROCESSES, or one per core); "
    "1 renders in the worker process itself.",
)
@with_appcontext
def worker(once: bool, interval: float, processes: int | None) -> None:
    from grants.background import PassResult, work
    from grants.services.documents import RenderPool

    def report(result: PassResult) -> None:
        if result.rendered or result.failed:
            click.echo(f"rendered {result.rendered}, failed {result.failed}")
        if result.sent:
            click.echo(f"sent {result.sent} e-mail message(s)")

    rt = _runtime()
    processes = processes or rt.config.render_processes
    with contextlib.ExitStack() as stack:
        # Stopped by `cascade serve` (SIGTERM) or Ctrl-C: leave through the pool's shutdown,
        # which lets the renders under way finish and stops the render processes with us.
        stack.enter_context(_sigterm_exits())
        pool = stack.enter_context(RenderPool(processes)) if processes > 1 else None
        work(rt, wait=lambda: time.sleep(interval), once=once, report=report, pool=pool)


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    """SIGTERM raises SystemExit (so `finally` blocks run) while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command(
    "serve",
    help="Serve in production: gunicorn web workers (no PDF thread) and outbox workers beside "
    "them. Settings: CASCADE_WEB_WORKERS, CASCADE_OUTBOX_WORKERS, RATELIMIT_STORAGE_URI.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=int, default=None, help="Web worker processes.")
@click.option("--outbox-workers", type=int, default=None, help="`cascade worker` processes.")
def serve_command(host: str, port: int, workers: int | None, outbox_workers: int | None) -> None:
    from grants.serve import serve, web_config

    config = web_config()
    serve(
        host,
        port,
        workers=workers if workers is not None else config.web_workers,
        outbox_workers=outbox_workers if outbox_workers is not None else config.outbox_workers,
    )


@click.command(
    "remind",
    help="Let offers past their acceptance deadline expire (promoting reserves), then send "
    "the reminders that are due (offers to accept, reports to submit), each once. "
    "Run it from cron, e.g. hourly.",
)
@click.option(
    "--at",
    "at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]),
    default=None,
    help="Act as if it were this moment (ISO 8601 with an offset); default: now.",
)
@with_appcontext
def remind(at: datetime | None) -> None:
    from grants.db import utcnow
    from grants.services.awards import expire_due_offers
    from grants.services.reminders import send_due

    rt = _runtime()
    now = at.astimezone(UTC) if at is not None else utcnow()
    with rt.sessions() as session, session.begin():
        # Expired first: an offer that lapsed gets its expiry notice, not an overdue reminder.
        expired = expire_due_offers(session, now)
        sent = send_due(session, now)
    for reference in expired:
        click.echo(f"{reference}: offer expired")
    for item in sent:
        click.echo(f"{item.reference}: {item.mail} to {item.to}")
    click.echo(f"{len(sent)} reminder(s) queued")


@click.group("audit", help="The audit trail.")
def audit_group() -> None:
    pass


@audit_group.command("export", help="Write the whole trail as CSV or JSON lines.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("--output", type=click.File("w"), default="-")
@with_appcontext
def audit_export(fmt: str, output: click.utils.LazyFile) -> None:
    from grants.services.audit import export_rows, write_csv

    rt = _runtime()
    with rt.sessions() as session:
        rows = export_rows(session)
        if fmt == "jsonl":
            for row in rows:
                output.write(json.dumps(row, ensure_ascii=False) + "\n")
            return
        write_csv(session, output)


def _refused(exc: Exception) -> click.ClickException:
    """A service's refusal as the command's error line (exit status 1)."""
    from grants.services.accounts import FormErrors

    if isinstance(exc, FormErrors):
        return click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
    return click.ClickException(str(exc))


@click.group("admin", help="Administrator accounts.")
def admin_group() -> None:
    pass


@admin_group.command(
    "create",
    help="Create an administrator who can log in at once (the first one on an empty database).",
)
@click.argument("email")
@click.option("--name", prompt="Full name", help="The administrator's full name.")
@click.password_option(
    "--password", prompt="Password", help="Asked twice when not given (not echoed)."
)
@with_appcontext
def admin_create(email: str, name: str, password: str) -> None:
    from grants.services import accounts, staff

    rt = _runtime()
    try:
        with rt.sessions() as session, session.begin():
            user = staff.create_admin(
                session, email=email, full_name=name, password=password, password_confirm=password
            )
            created = user.email
    except (accounts.FormErrors, accounts.AccountRefused) as exc:
        raise _refused(exc) from exc
    click.echo(f"administrator {created} created; log in at {_site_url('auth.login')}")


@click.group("user", help="Staff accounts.")
def user_group() -> None:
    pass


def _site_url(endpoint: str, **values: str) -> str:
    """An absolute link outside any request: CASCADE_PUBLIC_URL, else the local `make run`
    address."""
    from flask import current_app, url_for

    base = _runtime().config.public_url or "http://127.0.0.1:5000"
    with current_app.test_request_context(base_url=base):
        return url_for(endpoint, _external=True, **values)


@user_group.command(
    "invite",
    help="Invite a staff member by e-mail with one or more roles "
    "(officer, finance, evaluator, auditor, admin); the link is mailed and printed.",
)
@click.argument("email")
@click.option("--name", required=True, help="The person's full name.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="A role to hold; repeat for several, or separate with commas.",
)
@with_appcontext
def user_invite(email: str, name: str, roles: tuple[str, ...]) -> None:
    from flask import current_app

    from grants.services import accounts, staff

    rt = _runtime()
    links: list[str] = []

    def link(token: str) -> str:
        links.append(_site_url("account.welcome", token=token))
        return links[-1]

    try:
        with rt.sessions() as session, session.begin():
            wanted = staff.parse_roles(part for value in roles for part in value.split(","))
            user = staff.invite(
                session,
                staff.command_line(),
                email=email,
                full_name=name,
                roles=wanted,
                secret_key=str(current_app.config["SECRET_KEY"]),
                link=link,
            )
            invited = user.email
    except (accounts.FormErrors, accounts.AccountRefused) as exc:
        raise _refused(exc) from exc
    held = ", ".join(str(role) for role in wanted)
    click.echo(f"invited {invited} as {held}; the invitation is in the outbox")
    click.echo(f"invitation link (valid 7 days, works once): {links[-1]}")
    if not rt.config.public_url:
        click.echo("set CASCADE_PUBLIC_URL so links in e-mails point at your site", err=True)


@click.group("call", help="Calls kept as YAML files.")
def call_group() -> None:
    pass


@call_group.command("export", help="Write a call as YAML (to keep it in version control).")
@click.argument("reference")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
@with_appcontext
def call_export(reference: str, output: click.utils.LazyFile) -> None:
    from grants.errors import NotFound
    from grants.services import call_files

    rt = _runtime()
    with rt.sessions() as session:
        try:
            output.write(call_files.export_call(session, reference))
        except NotFound as exc:
            raise click.ClickException(f"no call {reference}") from exc


@call_group.command(
    "import",
    help="Make a new draft call from a YAML file; --reference copies it under another one.",
)
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--reference", default=None, help="The new call's reference instead of the file's.")
@with_appcontext
def call_import(file: click.utils.LazyFile, reference: str | None) -> None:
    from grants.errors import ValidationFailed
    from grants.services import call_files, staff
    from workflows.call_document import DocumentProblems
    from workflows.roles import Role

    rt = _runtime()
    try:
        with rt.sessions() as session, session.begin():
            imported = call_files.import_call(
                session, staff.command_line(Role.OFFICER), file.read(), reference=reference
            )
            made, later = imported.call.reference, imported.before_publishing
    except DocumentProblems as exc:
        raise click.ClickException(_listed(exc.problems)) from exc
    except ValidationFailed as exc:
        raise click.ClickException(_listed(exc.errors)) from exc
    click.echo(f"draft call {made} imported")
    if later:
        click.echo("to put right before publishing:\n" + _listed(later))


def _listed(problems: dict[str, str]) -> str:
    return "\n".join(f"  {path or 'file'}: {message}" for path, message in problems.items())


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(demo)
    app.cli.add_command(worker)
    app.cli.add_command(remind)
    app.cli.add_command(serve_command)
    app.cli.add_command(audit_group)
    register_audit_commands(audit_group)  # verify (chain, anchors, reconciliation), anchor
    app.cli.add_command(admin_group)
    app.cli.add_command(user_group)
    app.cli.add_command(call_group)
    from grants.cli_exports import export_command

    app.cli.add_command(export_command)
    from grants.cli_dossier import dossier_command

    app.cli.add_command(dossier_command)
    from grants.cli_publication import publish

    app.cli.add_command(publish)


def _create_app() -> Flask:
    from grants.app import create_app

    return create_app()


cli = FlaskGroup(create_app=_create_app, help="Cascade: cascade-funding voucher programmes.")


def main() -> None:
    cli()


if __name__ == "__main__":  # `python -m grants.cli worker`, as `cascade serve` starts it
    main()
