"""The quick `archive search` (cli/quicksearch.py): what it may import, how it reads the
config (listfed/quickconfig.py), and that everything it is not sure of goes to the full
command line, which words the error.

Speed is what a user notices (bench/cli.py measures it: a search from the shell within
about 50 ms); here the proxy is deterministic: the modules a plain search loads.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from listfed import configcache, quickconfig
from listfed.cli import plainout
from listfed.cli import quicksearch as quick
from listfed.cli.app import app
from listfed.config import StorageConfig, load_config
from tests.conftest import DOMAIN
from tests.loaded import loaded_modules, node_with_a_list, run_listfed

TEAM = f"team@{DOMAIN}"
SEARCH = ["archive", "search", "anything"]
# typer (~35 ms), the full config check (~20 ms), the database layer, and the standard
# modules only they pulled in (dataclasses brings inspect, ~8 ms; logging ~4 ms)
NEVER = {
    "typer", "click", "sqlalchemy", "sqlmodel", "pydantic", "listfed.config", "listfed.db.engine",
    "listfed.migrations", "dataclasses", "logging", "listfed.archive.threads", "tantivy",
}  # fmt: skip


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return node_with_a_list(tmp_path_factory.mktemp("node"), TEAM)


def _loaded(names: set[str]) -> set[str]:
    return NEVER & names


@pytest.mark.parametrize(
    "args",
    [
        SEARCH,
        [*SEARCH, "--json", "--limit", "5"],
        [*SEARCH, "--list", TEAM, "--all"],
        ["archive", "search", '"unclosed'],  # an error, said without typer too
    ],
)
def test_the_console_script_searches_without_typer_or_the_full_config(
    node: Path, args: list[str]
) -> None:
    env = {**os.environ, "LISTFED_CONFIG": str(node / "listfed.toml")}
    code, names, out = loaded_modules(env, args)
    assert code == (1 if '"unclosed' in args else 0), out
    assert _loaded(names) == set()
    assert "Traceback" not in out


def test_python_dash_m_searches_without_typer_or_the_full_config(node: Path) -> None:
    env = {**os.environ, "LISTFED_CONFIG": str(node / "listfed.toml")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "listfed", *SEARCH],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout == "no messages found\n"
    names = {
        line.rpartition("|")[2].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "listfed.cli.quicksearch" in names
    assert _loaded(names) == set()


def test_what_is_not_plain_still_goes_through_typer(node: Path) -> None:
    env = {**os.environ, "LISTFED_CONFIG": str(node / "listfed.toml")}
    _code, modules, _out = run_listfed(env, ["archive", "search", "x", "--limti", "3"])
    assert "typer" in modules


@pytest.mark.parametrize(
    ("text", "data_dir"),
    [
        ('[node]\nname = "a.example"\n', "var"),
        ('[node]\ndata_dir = "data"\n[smtp]\nlisten = "127.0.0.1:2525"\n', "data"),
        ('[node]\ndata_dir = "/srv/listfed"\n', "/srv/listfed"),
        ("# nothing but defaults\n", "var"),
    ],
)
def test_the_quick_reader_agrees_with_the_full_loader(
    tmp_path: Path, text: str, data_dir: str
) -> None:
    path = tmp_path / "listfed.toml"
    path.write_text(text, encoding="utf-8")
    full = load_config(path, {}, tmp_path, system=tmp_path / "none.toml")
    got = quickconfig.storage(str(path), {}, str(tmp_path), system=str(tmp_path / "none.toml"))
    assert got is not None
    assert (Path(got[0]), got[1]) == (full.node.data_dir, full.storage.busy_timeout)
    assert got[0] == str(tmp_path / data_dir)
    assert quickconfig.BUSY_TIMEOUT == StorageConfig.busy_timeout
    cache, key = str(tmp_path / "cache"), configcache.key_of(path.stat())
    later = max(key[3], key[4]) + 10 * configcache.RACY
    kept = quickconfig.storage(str(path), {}, str(tmp_path), cache=cache, now=later)
    assert kept == quickconfig.storage(str(path), {}, str(tmp_path), cache=cache) == got
    assert configcache.load(cache, str(path), key) is not None  # (the second: from there)


@pytest.mark.parametrize(
    "text",
    [
        "[node\n",  # not TOML
        "[node]\ndata_dir = 5\n",
        '[node]\ndata_dir = " "\n',
        'node = "x"\n',
        '[storage]\nbusy_timeout = "soon"\n',
        '[storage]\nbusy_timeout = "10s"\n',  # good, but read by the full loader
        b"[node]\nname = '\xff'\n",  # not UTF-8
    ],
)
def test_anything_unusual_in_the_config_is_left_to_the_full_loader(
    tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "listfed.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    assert quickconfig.storage(str(path), {}, str(tmp_path)) is None
    assert quick.search(["--config", str(path), *SEARCH]) is None
    assert capsys.readouterr() == ("", "")


def test_a_missing_config_or_database_is_left_to_the_full_command_line(tmp_path: Path) -> None:
    assert quick.search(["--config", str(tmp_path / "gone.toml"), *SEARCH]) is None
    empty = tmp_path / "listfed.toml"
    empty.write_text("", encoding="utf-8")  # no database under ./var
    assert quick.search(["--config", str(empty), *SEARCH]) is None
    full = CliRunner().invoke(app, ["--config", str(empty), *SEARCH])
    assert full.exit_code == 1
    assert full.stderr.startswith("listfed: no database at ")


def test_lines_are_written_as_typer_writes_them(capsys: pytest.CaptureFixture[str]) -> None:
    text = "a \033[1mbold\033[0m word, ünïcode"
    typer.echo(text)
    typer.echo(text, err=True)
    full = capsys.readouterr()
    plainout.echo(text)
    plainout.echo_err(text)
    assert capsys.readouterr() == full


def test_a_search_from_the_shell_reads_what_is_still_in_the_write_ahead_log(
    tmp_path: Path,
) -> None:
    """A live daemon's commits stay in the WAL until a checkpoint: the quick search opens
    the database read-only, not as immutable, so it reads them."""
    node = node_with_a_list(tmp_path, TEAM)
    database = node / "var" / "listfed.db"
    holder = sqlite3.connect(database)  # open: the importer's close checkpoints nothing
    try:
        holder.execute("SELECT count(*) FROM meta").fetchone()
        mbox = tmp_path / "posts.mbox"
        mbox.write_bytes(
            b"From ann@example.org Mon Mar  4 10:00:00 2024\nFrom: Ann <ann@example.org>\n"
            b"Subject: Sortition\nMessage-ID: <w@x>\nDate: Mon, 04 Mar 2024 10:00:00 +0000\n"
            b"\nWe draw lots.\n"
        )
        config = str(node / "listfed.toml")
        imported = CliRunner().invoke(
            app, ["--config", config, "archive", "import", TEAM, str(mbox)]
        )
        assert imported.exit_code == 0, imported.output
        assert (node / "var" / "listfed.db-wal").stat().st_size > 0
        code, names, out = loaded_modules(
            {**os.environ, "LISTFED_CONFIG": config}, ["archive", "search", "lots"]
        )
    finally:
        holder.close()
    assert code == 0
    assert "<w@x>" in out
    assert _loaded(names) == set()
