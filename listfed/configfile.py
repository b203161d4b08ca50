"""Finding listfed.toml (SPEC §7) for the full loader (listfed.config), with Paths: the
search of listfed/quickconfig.py, which a quick `archive search` makes on plain str
paths (see there), and the full loader's words when a file named is not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from listfed import quickconfig
from listfed.errors import ConfigError

SYSTEM_CONFIG = Path(quickconfig.SYSTEM)


def find_config(
    explicit: Path | None, env: Mapping[str, str], cwd: Path, *, system: Path = SYSTEM_CONFIG
) -> Path | None:
    """The config file per SPEC §7: --config, $LISTFED_CONFIG, ./listfed.toml, then system."""
    given = None if explicit is None else str(explicit)
    found = quickconfig.locate(given, env, str(cwd), str(system))
    if found is None:
        return None
    path, source = Path(found[0]), found[1]
    if source and not path.is_file():
        raise ConfigError(f"config file {path} (from {source}) does not exist")
    return path
