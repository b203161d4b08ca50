"""Finding listfed.toml (SPEC §7), and the two values a quick `archive search` reads
from it without the full check of listfed.config (about 20 ms of imports, most of them
its frozen dataclasses: half of what a search from the shell may take).

The quick reader says only what it is sure of: whenever the file is missing, unreadable,
not TOML, or gives the data folder or the busy timeout in any form but the plain one,
it answers None and the caller loads the config in full, so that every error reads as
the full loader words it. The rest of the file is the full loader's to check: a search
reads only these two values, as it reads no secret (`lenient_secrets`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from listfed.errors import ConfigError

SYSTEM_CONFIG = Path("/etc/listfed/listfed.toml")
DATA_DIR = "var"  # [node] data_dir when not set (tests/test_configfile.py holds the
BUSY_TIMEOUT = 5.0  # two to listfed.config's defaults)


def find_config(
    explicit: Path | None, env: Mapping[str, str], cwd: Path, *, system: Path = SYSTEM_CONFIG
) -> Path | None:
    """The config file per SPEC §7: --config, $LISTFED_CONFIG, ./listfed.toml, then system."""
    for given, source in ((explicit, "--config"), (env.get("LISTFED_CONFIG"), "$LISTFED_CONFIG")):
        if given:
            path = cwd / given
            if not path.is_file():
                raise ConfigError(f"config file {path} (from {source}) does not exist")
            return path
    return next((p for p in (cwd / "listfed.toml", system) if p.is_file()), None)


def storage_of(
    explicit: Path | None, env: Mapping[str, str], cwd: Path, *, system: Path = SYSTEM_CONFIG
) -> tuple[Path, float] | None:
    """The data folder and busy timeout when the file gives them plainly (as listfed.config
    would build them); None: load the config in full, which reports what is wrong."""
    try:
        path = find_config(explicit, env, cwd, system=system)
        if path is None:
            return None
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (ConfigError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    node = data.get("node", {})
    if not isinstance(node, dict) or "storage" in data:
        return None
    data_dir = node.get("data_dir", DATA_DIR)
    if not isinstance(data_dir, str) or not data_dir.strip():
        return None
    return path.parent / data_dir, BUSY_TIMEOUT
