"""listfed: mailing lists and list federation in one asyncio process."""

__version__ = "0.1.0"
