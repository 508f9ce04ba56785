"""Lazy attributes for package `__init__` modules (PEP 562).

Packages list `{name: module}` and get a `__getattr__` that imports the
module on first use, so importing a package (or the CLI's `--help`) does not
pull in TensorFlow.
"""

from __future__ import annotations

import importlib


def lazy_getattr(package: str, table: dict[str, str]):
    def __getattr__(name):
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
