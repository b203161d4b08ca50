"""listfed/configcache.py: what tomllib made of a config is used again only while the file
is exactly as it was read, and never when it was read too soon after a change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from listfed import configcache, quickconfig

LATER = 10 * configcache.RACY  # ns after the file's last change: well clear of RACY


def _config(tmp_path: Path, text: str = '[node]\ndata_dir = "data"\n') -> tuple[str, Path]:
    path = tmp_path / "listfed.toml"
    path.write_text(text, encoding="utf-8")
    return str(path), tmp_path / "cache"


def _key(path: str) -> configcache.Key:
    return configcache.key_of(os.stat(path))


def _changed_at(key: configcache.Key) -> int:
    return max(key[3], key[4])


def test_an_entry_is_used_while_the_file_is_unchanged(tmp_path: Path) -> None:
    path, cache = _config(tmp_path)
    key = _key(path)
    assert configcache.load(str(cache), path, key) is None
    assert configcache.store(str(cache), path, key, "data", _changed_at(key) + LATER)
    assert configcache.load(str(cache), path, key) == "data"
    assert configcache.load(str(cache), str(tmp_path / "other.toml"), key) is None
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert [oct(p.stat().st_mode & 0o777) for p in cache.iterdir()] == ["0o600"]


def test_any_change_to_the_file_is_a_miss(tmp_path: Path) -> None:
    path, cache = _config(tmp_path)
    key = _key(path)
    assert configcache.store(str(cache), path, key, "data", _changed_at(key) + LATER)
    os.utime(path, ns=(key[3] - 10**9, key[3] - 10**9))  # an older time, the same size
    assert configcache.load(str(cache), path, _key(path)) is None
    Path(path).write_text('[node]\ndata_dir = "elsewhere"\n', encoding="utf-8")
    assert configcache.load(str(cache), path, _key(path)) is None


def test_a_file_changed_within_racy_is_not_kept(tmp_path: Path) -> None:
    """A second write in the same tick of the clock would leave the key as it is."""
    path, cache = _config(tmp_path)
    key = _key(path)
    assert not configcache.store(str(cache), path, key, "data", _changed_at(key) + 1000)
    assert not cache.exists()


def test_a_file_changed_while_it_was_read_is_not_kept(tmp_path: Path) -> None:
    path, cache = _config(tmp_path)
    read = _key(path)
    Path(path).write_text('[node]\ndata_dir = "d2"\n', encoding="utf-8")
    assert not configcache.store(str(cache), path, read, "data", _changed_at(read) + LATER)


def test_a_newline_in_the_value_is_not_kept(tmp_path: Path) -> None:
    path, cache = _config(tmp_path)
    key = _key(path)
    assert not configcache.store(str(cache), path, key, "da\nta", _changed_at(key) + LATER)


def test_an_entry_of_another_owner_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, cache = _config(tmp_path)
    key = _key(path)
    assert configcache.store(str(cache), path, key, "data", _changed_at(key) + LATER)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(cache).st_uid + 1)
    assert configcache.load(str(cache), path, key) is None


def test_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    path, cache = _config(tmp_path)
    key = _key(path)
    assert configcache.store(str(cache), path, key, "data", _changed_at(key) + LATER)
    [entry] = cache.iterdir()
    good = entry.read_bytes()
    entry.write_bytes(good + b"\nmore")  # a fifth line
    assert configcache.load(str(cache), path, key) is None
    entry.write_bytes(good.removesuffix(b"data") + b"\xff")  # not UTF-8
    assert configcache.load(str(cache), path, key) is None
    entry.write_bytes(good)
    assert configcache.load(str(cache), path, key) == "data"


def test_an_unwritable_folder_keeps_nothing_and_fails_nothing(tmp_path: Path) -> None:
    path, _cache = _config(tmp_path)
    key = _key(path)
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert not configcache.store(str(blocked / "cache"), path, key, "d", _changed_at(key) + LATER)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "listfed.toml"]


@pytest.mark.parametrize(
    ("env", "folder"),
    [
        ({"XDG_CACHE_HOME": "/c", "HOME": "/h"}, "/c/listfed"),
        ({"XDG_CACHE_HOME": "relative", "HOME": "/h"}, "/h/.cache/listfed"),
        ({"HOME": "/h"}, "/h/.cache/listfed"),
        ({"HOME": ""}, None),
        ({}, None),
    ],
)
def test_the_folder_follows_xdg(env: dict[str, str], folder: str | None) -> None:
    assert configcache.folder(env) == folder


def test_the_quick_reader_uses_and_fills_the_cache(tmp_path: Path) -> None:
    path, cache = _config(tmp_path)
    got = quickconfig.storage(path, {}, str(tmp_path), cache=str(cache))
    assert got == (str(tmp_path / "data"), quickconfig.BUSY_TIMEOUT)
    assert not cache.exists()  # the file was just written: not kept yet
    key = _key(path)
    configcache.store(str(cache), path, key, "kept", _changed_at(key) + LATER)
    got = quickconfig.storage(path, {}, str(tmp_path), cache=str(cache))
    assert got == (str(tmp_path / "kept"), quickconfig.BUSY_TIMEOUT)  # (from the entry)
    assert quickconfig.storage(path, {}, str(tmp_path))[0] == str(tmp_path / "data")


def test_the_quick_reader_keeps_what_it_read_from_a_settled_file(tmp_path: Path) -> None:
    path, cache = _config(tmp_path)
    later = _changed_at(_key(path)) + LATER
    got = quickconfig.storage(path, {}, str(tmp_path), cache=str(cache), now=later)
    assert got == (str(tmp_path / "data"), quickconfig.BUSY_TIMEOUT)
    assert configcache.load(str(cache), path, _key(path)) == "data"
