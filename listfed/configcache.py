"""What tomllib made of a listfed.toml, kept for the next quick `archive search`
(listfed/quickconfig.py), so that a search from the shell need not import tomllib (2-3
ms of the 50 it may take).

An entry is the data folder as the file gave it, under the file's path and its identity
(device, inode, size, modification and change times in ns). Any write to the file, a
rename over it or a chmod changes its change time, which no one but the clock sets;
so an entry is used only while the file is exactly as it was read. Like git's index, it
guards against a write within the same tick of the file system's clock: an entry is
written only when the file was last changed more than RACY ago, and the file did not
change while it was read. Anything odd (no cache folder, an entry of another owner, a
path or value with a newline in it) means no entry: the file is read with tomllib.

The folder is `$XDG_CACHE_HOME/listfed`, else `~/.cache/listfed`; one file per config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

HEADER = b"listfed config cache 1"
RACY = 2_000_000_000  # ns: a file changed more recently than this is not kept

Key = tuple[int, int, int, int, int]


def folder(env: Mapping[str, str]) -> str | None:
    """Where entries are kept, None when the environment names no such place."""
    base = env.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = env.get("HOME", "")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "listfed")


def key_of(stat: os.stat_result) -> Key:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def load(where: str, path: str, key: Key) -> str | None:
    """The data folder kept for the file at `path` as it is now (`key`), if any."""
    try:
        with open(_entry(where, path), "rb") as entry:
            if os.fstat(entry.fileno()).st_uid != os.geteuid():
                return None  # not ours: not trusted
            lines = entry.read().split(b"\n")
    except OSError:
        return None
    if lines[:3] != [HEADER, os.fsencode(path), _encode_key(key)] or len(lines) != 4:
        return None
    try:
        return lines[3].decode("utf-8")
    except UnicodeDecodeError:
        return None


def store(where: str, path: str, read: Key, data_dir: str, now: int) -> bool:
    """Keep `data_dir` for the file at `path`, which was `read` as it was then; only
    when the file is still that and was not changed within RACY of `now` (ns since the
    epoch). Whether it was kept (a failure to write is no error: there is no entry)."""
    try:
        if key_of(os.stat(path)) != read or now - max(read[3], read[4]) <= RACY:
            return False
        body = b"\n".join([HEADER, os.fsencode(path), _encode_key(read), data_dir.encode()])
    except (OSError, UnicodeError):
        return False
    if body.count(b"\n") != 3:
        return False  # a newline in the path or the value
    target = _entry(where, path)
    temporary = f"{target}.{os.getpid()}"
    try:
        os.makedirs(where, mode=0o700, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW  # never through a link
        descriptor = os.open(temporary, flags, 0o600)
        with open(descriptor, "wb") as out:
            out.write(body)
        os.replace(temporary, target)
    except OSError:
        import contextlib  # here only: a search from the shell does without it

        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False
    return True


def _entry(where: str, path: str) -> str:
    """The entry's file: named by a hash of the path (FNV-1a, 64 bits; the path itself
    is in the entry, so two paths of one hash only take each other's place)."""
    digest = 0xCBF29CE484222325
    for byte in os.fsencode(path):
        digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return os.path.join(where, f"config-{digest:016x}")


def _encode_key(key: Key) -> bytes:
    return " ".join(map(str, key)).encode()
