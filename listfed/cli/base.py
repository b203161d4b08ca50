"""What every command shares: the config and database it works on, errors, output."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from listfed.cli import plainout
from listfed.cli.plainout import status_of
from listfed.config import Config, load_config
from listfed.errors import ListfedError

if TYPE_CHECKING:  # the database layer is imported when a command needs it: a quick
    from sqlmodel import Session  # `archive search` must not pay for SQLAlchemy

    from listfed.db.engine import Database

F = TypeVar("F", bound=Callable[..., Any])


def say_err(text: str) -> None:
    """A line on stderr (typer's echo)."""
    typer.echo(text, err=True)


def guarded(fn: F) -> F:
    """Errors become one line on stderr and an exit status; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            raise typer.Exit(status_of(exc, say_err)) from None

    return wrapper  # type: ignore[return-value]


class App(typer.Typer):
    """A Typer whose commands are all `guarded`, and whose values are converted without
    pydantic where they can be (cli/coercion.py)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from listfed.cli.coercion import quicken

        command = typer.main.get_command(self)
        quicken(command)
        return command(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().command(*args, **kwargs)

        def decorate(fn: F) -> F:
            register(guarded(fn))
            return fn

        return decorate


def new_app(help_text: str) -> App:
    return App(
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
    )


@dataclass
class State:
    """Carried in ctx.obj: the --config given, and the config once loaded."""

    config_path: Path | None = None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        """The config; a secret it names that cannot be read stops only the commands
        that need it (`config.need_secrets(...)`)."""
        if self._config is None:
            env = dict(os.environ)
            self._config = load_config(self.config_path, env, Path.cwd(), lenient_secrets=True)
        return self._config

    @property
    def database_path(self) -> Path:
        path = self.config.node.data_dir / "listfed.db"
        if not path.exists():
            raise ListfedError(f"no database at {path}: run `listfed init` first")
        return path

    @contextmanager
    def database(self) -> Iterator[Database]:
        from listfed.db.engine import Database
        from listfed.migrations import upgrade

        db = Database(self.database_path, self.config.storage.busy_timeout)
        try:
            upgrade(db)
            yield db
        finally:
            db.close()

    @contextmanager
    def plain(self, readonly: bool = True) -> Iterator[sqlite3.Connection]:
        """A plain sqlite3 connection, for the commands that must not wait for SQLAlchemy
        to load (archive, `lists ls`, the common writes); an older database is upgraded
        once first, on a plain connection too."""
        from listfed.archive import opendb

        path = self.database_path
        timeout = self.config.storage.busy_timeout
        conn = opendb.connect(path, timeout, readonly)
        if not opendb.is_current(conn):
            conn.close()
            from listfed.migrations import upgrade_file

            upgrade_file(path, timeout)
            conn = opendb.connect(path, timeout, readonly)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write_plain(self) -> Iterator[sqlite3.Connection]:
        """`write` on a plain sqlite3 connection: one IMMEDIATE transaction, committed on
        success; any SQLite failure is a StorageError, as through `write`."""
        from listfed.db.plain import transaction

        with self.plain(readonly=False) as conn, transaction(conn, "BEGIN IMMEDIATE", "write"):
            yield conn

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.database() as db, db.write() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.database() as db, db.read() as session:
            yield session


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):
        obj = State()
        ctx.find_root().obj = obj
    return obj


def emit(as_json: bool, data: Any, text: Callable[[], str]) -> None:
    """Print JSON (an array or object) or the human text."""
    plainout.emit(as_json, data, text, typer.echo)


def table(rows: list[list[str]], header: list[str]) -> str:
    if not rows:
        return ""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


JsonOption = typer.Option(False, "--json", help="Print JSON instead of text.")


HELP = "listfed: mailing lists and committees of correspondence, in one process."


def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (else $LISTFED_CONFIG, ./listfed.toml, "
            "/etc/listfed/listfed.toml, else built-in defaults).",
        ),
    ] = None,
) -> None:
    """Global options."""
    ctx.obj = State(config_path=config)
