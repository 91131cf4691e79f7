"""A small registry of named plug-ins (super-networks, strategies, measures, predictors).

Registering a name twice raises; an unknown name raises an error that lists the close
matches and every valid name.

>>> colors = Registry("color")
>>> @colors.register("red")
... def make_red():
...     return "#f00"
>>> colors.create("red")
'#f00'
>>> colors.get("rde")
Traceback (most recent call last):
...
hwnas.errors.UnknownNameError: unknown color 'rde'; did you mean 'red'? Valid names: red
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from hwnas.errors import HwnasError, InvalidConfigError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names mapped to factories (a class or a function returning a plug-in)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register ``factory`` under ``name``; a second registration raises."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise HwnasError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = factory
            return factory

        return decorator

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def create(self, name: str, *args: Any, **options: Any) -> T:
        """Build the plug-in ``name``; the factory's own signature rejects unknown options."""
        factory = self.get(name)
        try:
            return factory(*args, **options)
        except TypeError as error:
            if "unexpected keyword argument" in str(error):
                raise HwnasError(f"{self.kind} {name!r}: {error}") from None
            raise

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style pattern, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def unknown_message(self, name: str) -> str:
        valid = ", ".join(self.names())
        close = difflib.get_close_matches(str(name), self.names(), n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
        return f"unknown {self.kind} {name!r}{hint} Valid names: {valid}"


def import_object(path: str, what: str) -> Any:
    """The callable at ``"package.module:attribute"`` (attributes may be dotted): a user's
    own plug-in given by path (``what`` names it in the errors)."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise InvalidConfigError(f"{what} {path!r} is not of the form 'package.module:name'")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise InvalidConfigError(
            f"cannot import module {module_name!r} for {what} {path!r} ({error}); install the "
            "package or put its folder on PYTHONPATH"
        ) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise InvalidConfigError(
                f"module {module_name!r} has no {attribute!r} ({what} {path!r})"
            )
        target = getattr(target, part)
    if not callable(target):
        raise InvalidConfigError(f"{what} {path!r} is not callable")
    return target
