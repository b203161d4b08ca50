"""typing.NamedTuple's class syntax without importing typing, for the records an archive
search makes (the query's tree, its hits): `archive search` from the shell has 50 ms in
all, and typing takes 3 of them (cli/quicksearch.py).

mypy sees typing.NamedTuple itself. At run time a record is the class that
collections.namedtuple makes, as typing's is: the same fields, defaults, methods and
docstring; only the annotations stay the strings they are written as (the modules that
use this import annotations from __future__), where typing would compile each.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy takes any `if TYPE_CHECKING:` as true; typing is not loaded

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    import collections

    class _Records(type):
        def __new__(mcs, name, bases, namespace):
            fields = namespace.get("__annotations__", {})
            defaults = [namespace[field] for field in fields if field in namespace]
            made = collections.namedtuple(
                name, fields, defaults=defaults, module=namespace["__module__"]
            )
            for key, value in namespace.items():
                if key not in fields and key not in ("__module__", "__annotations__"):
                    setattr(made, key, value)
            made.__annotations__ = dict(fields)
            return made

    NamedTuple = type.__new__(_Records, "NamedTuple", (), {})
