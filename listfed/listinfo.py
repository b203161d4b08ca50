"""What a list is, as the pipeline and delivery see it: plain frozen data, no database."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Policy(StrEnum):
    OPEN = "open"
    MEMBERS = "members"
    MODERATED = "moderated"
    ANNOUNCE = "announce"


class NonmemberAction(StrEnum):
    HOLD = "hold"
    REJECT = "reject"
    DISCARD = "discard"


class Role(StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    OWNER = "owner"


class DeliveryMode(StrEnum):
    REGULAR = "regular"
    DIGEST = "digest"
    NOMAIL = "nomail"


class DigestPeriod(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"

    @property
    def seconds(self) -> float:
        return {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0}[self.value]


class DigestFormat(StrEnum):
    MIME = "mime"  # multipart/digest, opened by an RFC 1153 table of contents
    PLAIN = "plain"  # one text/plain message, RFC 1153


class Visibility(StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"
    PRIVATE = "private"


@dataclass(frozen=True)
class ListInfo:
    """One hosted list and the settings that shape what its members receive."""

    id: int
    local: str
    domain: str
    description: str = ""
    subject_prefix: str | None = None  # None: the default "[local]"; "": no prefix
    footer: str = ""
    policy: Policy = Policy.MEMBERS
    nonmember_action: NonmemberAction = NonmemberAction.HOLD
    archive: bool = True
    visibility: Visibility = Visibility.PUBLIC
    max_message_size: int = 0  # 0: the node's [smtp] max_message_size
    reply_to: str = "none"  # none | list | explicit ADDR
    dmarc: str = "munge"
    bounce_threshold: int = 5
    digest_size: int = 30 * 1024
    digest_period: DigestPeriod = DigestPeriod.DAILY
    digest_format: DigestFormat = DigestFormat.MIME
    welcome_message: str = ""  # "": the default text (notices/templates.py)
    goodbye_message: str = ""
    emergency: bool = False  # hold every post
    accept_these_nonmembers: tuple[str, ...] = ()  # address, glob (*@domain) or ^regex
    hold_types: tuple[str, ...] = ()  # MIME types that hold a post: type/subtype, type/*
    dmarc_always: tuple[str, ...] = ()  # From domains always mitigated
    dmarc_never: tuple[str, ...] = ()  # From domains never mitigated
    hold_expiry: float = 14 * 86400.0  # 0: held posts wait for ever
    reply_to_override: bool = False  # replace the poster's own Reply-To
    one_click: bool = True  # members' copies carry a one-click unsubscribe URL (base_url)
    notify_owners: bool = True  # owners hear of each join and leave (SPEC §2)

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"

    def sub_address(self, suffix: str) -> str:
        """``LIST-suffix@DOMAIN``, e.g. ``sub_address("request")``."""
        return f"{self.local}-{suffix}@{self.domain}"

    @property
    def bounces_address(self) -> str:
        return self.sub_address("bounces")

    def placeholders(self) -> dict[str, str]:
        """What `$name` in the list's texts (welcome, goodbye, footer) stands for."""
        return {
            "list": self.address,
            "description": self.description,
            "about": f" ({self.description})" if self.description else "",
            "request": self.sub_address("request"),
            "join": self.sub_address("join"),
            "leave": self.sub_address("leave"),
            "owner": self.sub_address("owner"),
        }

    @property
    def list_id(self) -> str:
        """The RFC 2919 identifier, without the phrase: ``LIST.DOMAIN``."""
        return f"{self.local}.{self.domain}"

    @property
    def prefix(self) -> str:
        """The subject prefix in force (possibly empty)."""
        if self.subject_prefix is None:
            return f"[{self.local}]"
        return self.subject_prefix

    @property
    def reply_to_address(self) -> str:
        """The explicit Reply-To address ("" unless reply_to is "explicit ADDR")."""
        word, _, rest = self.reply_to.partition(" ")
        return rest.strip() if word == "explicit" else ""
