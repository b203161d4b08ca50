"""What a `listfed` command loads: the command run in a fresh interpreter, which reports
its exit status and the top-level modules it imported (issue 20: a command imports what
it runs and no more)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# what a command that only shows something, or its help, never needs
HEAVY = {
    "sqlalchemy", "sqlmodel", "pydantic", "aiosmtpd", "aiosmtplib", "dkim", "dns",
    "aioimaplib", "mailparser", "flufl", "starlette", "uvicorn", "jinja2", "cryptography",
}  # fmt: skip
ORM = {"sqlalchemy", "sqlmodel", "pydantic"}

SCRIPT = """
import json, os, sys
from listfed.cli.main import main
def _exit(code):  # a quick search ends by os._exit (cli/plainout.leave): report first
    raise SystemExit(code)
os._exit = _exit
sys.argv = ["listfed", *sys.argv[1:]]
try:
    main()
except SystemExit as done:
    code = done.code
print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)
"""


def run_listfed(env: dict[str, str], args: list[str]) -> tuple[int | None, set[str], str]:
    """`listfed ARGS` (its config named in `env`): exit status, top-level modules, output."""
    code, modules, out = loaded_modules(env, args)
    return code, {m.split(".")[0] for m in modules}, out


def loaded_modules(env: dict[str, str], args: list[str]) -> tuple[int | None, set[str], str]:
    """As run_listfed, with every module's full name (`listfed.config`, `typer.main`)."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True, text=True, timeout=60
    )
    code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return code, set(modules), done.stdout + done.stderr


def node_with_a_list(where: Path, address: str) -> Path:
    """A node made by `listfed init` in `where`, with one list; its folder."""
    from typer.testing import CliRunner

    from listfed.cli.app import app

    config = str(where / "listfed.toml")
    runner = CliRunner()
    for args in (["init", "--domain", address.partition("@")[2]], ["lists", "create", address]):
        assert runner.invoke(app, ["--config", config, *args]).exit_code == 0
    return where
