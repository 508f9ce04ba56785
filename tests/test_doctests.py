"""Run the `>>>` examples in the docstrings of every textlstm module.

One test per module with examples. Modules are found on disk (`pkgutil.iter_modules`,
recursively), so collecting this file imports nothing; each test imports its module
and runs what `doctest.DocTestFinder` finds there, with ELLIPSIS and
NORMALIZE_WHITESPACE.

An example sees the names its module defines (`ConfigError` in `textlstm.errors`),
but not the modules or names the module imports: `np`, `keras`, `tf` or a class
from another textlstm module are not there unless the example imports them, as a
reader pasting it into a fresh interpreter would have to.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(importlib.util.find_spec("textlstm").origin).parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def textlstm_modules(path: Path = ROOT, prefix: str = "textlstm") -> list[tuple[str, Path]]:
    """(module name, source file) for the package and all its submodules, without importing them."""
    found = [(prefix, path / "__init__.py")]
    for info in pkgutil.iter_modules([str(path)]):
        name = f"{prefix}.{info.name}"
        if info.ispkg:
            found += textlstm_modules(path / info.name, name)
        else:
            found.append((name, path / f"{info.name}.py"))
    return found


WITH_EXAMPLES = sorted(name for name, source in textlstm_modules() if ">>>" in source.read_text(encoding="utf-8"))


def own_globals(module) -> dict:
    """The module's namespace without what it imported (modules, and objects defined elsewhere)."""
    return {
        name: value
        for name, value in vars(module).items()
        if name.startswith("__")
        or (not inspect.ismodule(value) and getattr(value, "__module__", module.__name__) == module.__name__)
    }


def test_modules_are_found():
    names = [name for name, _ in textlstm_modules()]
    assert "textlstm.config" in names and "textlstm.seq2seq.model" in names
    assert WITH_EXAMPLES, "no module has a >>> example"


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = finder.find(module, name, globs=own_globals(module))
    if not tests:
        pytest.skip(f"{name}: '>>>' in the source, but not in a docstring doctest finds")
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    for test in sorted(tests, key=lambda t: t.lineno or 0):
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed in {name}:\n" + "".join(
        report
    )
