"""The test Dovecot (tests/dovecot.py) starts on a fresh machine as README says: Debian's
dovecot-imapd puts the server in /usr/sbin, which a normal user's PATH lacks."""

from __future__ import annotations

import pytest

from tests.dovecot import running_dovecot


def test_dovecot_is_found_outside_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # a normal user's, without /usr/sbin
    with running_dovecot() as server:
        imap = server.client()
        try:
            assert imap.select("INBOX")[0] == "OK"
        finally:
            imap.logout()
