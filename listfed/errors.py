"""The exception tree. Each class maps to one SMTP reply and one exit status.

ListfedError                 exit 1, SMTP 451 4.3.0 (a temporary failure by default)
├── ConfigError              exit 1; the daemon does not start. Names the key path.
├── UsageError               exit 2; a bad argument the CLI could not catch itself
├── NotFound                 exit 1; unknown list, member, held message, queue item
├── AlreadyExists            exit 1; a list or member that is already there
├── InvalidAddress           exit 1; SMTP 501 5.1.3
└── StorageError             exit 1; SMTP 451 4.3.0 (the sender retries, nothing is lost)
"""

from __future__ import annotations


class ListfedError(Exception):
    """Base of every error listfed reports to a user."""

    exit_code = 1
    smtp_reply = "451 4.3.0 Temporary local problem, please try again later"


class ConfigError(ListfedError):
    """The configuration file is missing, unreadable or invalid."""

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)


class UsageError(ListfedError):
    exit_code = 2


class NotFound(ListfedError):
    pass


class AlreadyExists(ListfedError):
    pass


class InvalidAddress(ListfedError):
    smtp_reply = "501 5.1.3 Bad address syntax"


class StorageError(ListfedError):
    smtp_reply = "451 4.3.0 Could not store the message, please try again later"
