"""Setting up a node: config file, data dir, database, node secret. Safe to run twice."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from listfed.config import Config
from listfed.errors import ConfigError


@dataclass
class InitReport:
    config_written: bool
    created: list[str]


def config_text(name: str, domains: list[str]) -> str:
    doms = ", ".join(f'"{d}"' for d in domains)
    return (
        "# listfed configuration; every key is explained in config/listfed.example.toml\n"
        "[node]\n"
        f'name = "{name}"\n'
        f"domains = [{doms}]\n"
        'data_dir = "var"\n\n'
        "[smtp]\n"
        'listen = "127.0.0.1:8025"\n\n'
        "[delivery]\n"
        'smarthost = "maildir:var/outbox"   # or "smtp://127.0.0.1:25"\n'
    )


def write_config(path: Path, name: str, domains: list[str]) -> bool:
    """Write a starting config unless one is there already (never overwrite)."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_text(name, domains or [name]))
    return True


def prepare(config: Config) -> list[str]:
    """Create whatever is missing: data dir, database (at the newest schema), node secret.
    They are private to the node's user, whatever the umask: the database holds live
    moderation codes, private archives and member lists (the data dir 0700, the
    database 0600, and so its WAL and shared-memory files, which SQLite creates with
    the database's mode); an older install's are made so too."""
    created = []
    data = config.node.data_dir
    if not data.exists():
        data.mkdir(parents=True, mode=PRIVATE_DIR)
        created.append(str(data))
    data.chmod(PRIVATE_DIR)
    db_path = data / "listfed.db"
    new_db = not db_path.exists()
    if new_db:
        os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for path in (db_path, *(db_path.with_name(db_path.name + s) for s in ("-wal", "-shm"))):
        if path.exists():
            path.chmod(PRIVATE_FILE)
    from listfed.migrations import upgrade_file  # here: secret_path and node_secret need none

    upgrade_file(db_path, config.storage.busy_timeout)  # no SQLAlchemy: `init` starts quickly
    if new_db:
        created.append(str(db_path))
    if _ensure_secret(secret_path(config)):
        created.append(str(secret_path(config)))
    return created


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def secret_path(config: Config) -> Path:
    return config.node.data_dir / "node.secret"


def _ensure_secret(path: Path) -> bool:
    """Write a new random secret (mode 600) unless there is one; was one written?"""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(32) + "\n")
    return True


def node_secret(config: Config) -> str:
    """The node secret (the key of confirmation tokens), created on first use."""
    path = secret_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    _ensure_secret(path)
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the node secret {path}: {exc.strerror}") from exc
    if len(value) < 16:
        raise ConfigError(f"the node secret in {path} is too short (16 characters at least)")
    return value
