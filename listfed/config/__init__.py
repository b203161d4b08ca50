"""Read listfed.toml (SPEC §5, §7, §9) into frozen, typed dataclasses.

Every error is a ConfigError whose key is the dotted path of the bad value.
"""

from listfed.config.loading import load_config, parse_config
from listfed.config.sections import resolve_secret
from listfed.config.settings import (
    ArchiveConfig,
    BridgeConfig,
    Config,
    DeliveryConfig,
    DkimConfig,
    DnsConfig,
    MembersConfig,
    NodeConfig,
    PeerConfig,
    RouteConfig,
    SmtpConfig,
    StorageConfig,
    WebConfig,
)
from listfed.configfile import find_config

__all__ = [
    "ArchiveConfig",
    "BridgeConfig",
    "Config",
    "DeliveryConfig",
    "DkimConfig",
    "DnsConfig",
    "MembersConfig",
    "NodeConfig",
    "PeerConfig",
    "RouteConfig",
    "SmtpConfig",
    "StorageConfig",
    "WebConfig",
    "find_config",
    "load_config",
    "parse_config",
    "resolve_secret",
]
