"""Packages that are also functions: `brushwork.batch(...)` and `brushwork.batch.Summary` both.

A function called `batch` in brushwork/ would be replaced by the subpackage of that name as soon as it
is imported, so the package itself is made callable instead (a module's class may be a ModuleType
subclass since Python 3.5)."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any


def make_callable(package: str, function: Callable[..., Any]) -> None:
    """Calling the module `package` calls `function`."""

    class CallablePackage(types.ModuleType):
        __doc__ = f"{package}, callable as {function.__module__}.{function.__name__}"

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

    sys.modules[package].__class__ = CallablePackage
