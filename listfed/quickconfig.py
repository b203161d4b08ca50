"""Finding listfed.toml (SPEC §7), and the data folder a quick `archive search` reads
from it, on plain str paths: without pathlib (3-4 ms), without the full check of
listfed.config (about 20 ms) and, while the file is unchanged, without tomllib (2-3 ms
more: listfed/configcache.py keeps what it read). The full loader makes the same
search with Paths (listfed/configfile.py).

The quick reader says only what it is sure of: whenever the file is missing, unreadable,
not TOML, or gives the data folder in any form but the plain one, it answers None and the
caller loads the config in full, so that every error reads as the full loader words it.
The rest of the file is the full loader's to check: a search reads only the data folder,
as it reads no secret (`lenient_secrets`).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping

from listfed import configcache

SYSTEM = "/etc/listfed/listfed.toml"
DATA_DIR = "var"  # [node] data_dir when not set (tests/test_quicksearch.py holds the
BUSY_TIMEOUT = 5.0  # two to listfed.config's defaults)


def locate(
    explicit: str | None, env: Mapping[str, str], cwd: str, system: str = SYSTEM
) -> tuple[str, str] | None:
    """The config file per SPEC §7 (--config, $LISTFED_CONFIG, ./listfed.toml, then
    system) and what named it ("--config", "$LISTFED_CONFIG", or "" when found): a named
    file is given whether or not it exists, a found one only when it does."""
    for given, source in ((explicit, "--config"), (env.get("LISTFED_CONFIG"), "$LISTFED_CONFIG")):
        if given:
            return os.path.join(cwd, given), source
    for path in (os.path.join(cwd, "listfed.toml"), system):
        if os.path.isfile(path):
            return path, ""
    return None


def storage(
    explicit: str | None,
    env: Mapping[str, str],
    cwd: str,
    *,
    system: str = SYSTEM,
    cache: str | None = None,
    now: int | None = None,
) -> tuple[str, float] | None:
    """The data folder and busy timeout when the file gives them plainly (as listfed.config
    would build them); None: load the config in full, which reports what is wrong.
    `cache`: the folder of configcache's entries (None: none kept); `now`: the time
    (ns since the epoch) it is told when it keeps one (None: the clock's)."""
    found = locate(explicit, env, cwd, system)
    if found is None:
        return None
    path = found[0]
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return None  # (the full loader: "does not exist")
        key = configcache.key_of(status)
        data_dir = configcache.load(cache, path, key) if cache else None
        if data_dir is None:
            with open(path, encoding="utf-8") as text:  # as Path.read_text reads it
                data_dir = data_dir_of(text.read())
            if data_dir is not None and cache:
                configcache.store(
                    cache, path, key, data_dir, time.time_ns() if now is None else now
                )
    except (OSError, UnicodeDecodeError):
        return None
    if data_dir is None:
        return None
    return os.path.join(os.path.dirname(path), data_dir), BUSY_TIMEOUT


def data_dir_of(text: str) -> str | None:
    """[node] data_dir of a config's text, when the text is TOML and gives it plainly
    (or not at all) and has no [storage] table; else None."""
    import tomllib  # here only: a config read before comes from configcache

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    node = data.get("node", {})
    if not isinstance(node, dict) or "storage" in data:
        return None
    data_dir = node.get("data_dir", DATA_DIR)
    if not isinstance(data_dir, str) or not data_dir.strip():
        return None
    return data_dir
