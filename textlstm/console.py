"""What the console script prints: TensorFlow's start-up noise left out, and
one line saying which device trains.

Importing TensorFlow 2.21 prints, on stderr, before anything else::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796172972.614580    5232 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1796172972.614974    5232 cudart_stub.cc:31] Could not find cuda drivers on your machine, ...

twice, and the first device query on a machine without a GPU adds
``E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error``.
The first three lines come from static initializers of TensorFlow's C++
runtime, which run while the shared library loads, before TensorFlow has read
``TF_CPP_MIN_LOG_LEVEL`` (so even ``TF_CPP_MIN_LOG_LEVEL=3`` leaves them), and
through absl logging before ``absl::InitializeLog`` (hence absl's banner). They
come twice because ``import tensorflow`` loads two copies of that runtime:
``libtensorflow_framework.so.2``, and ``_pywrap_profiler_plugin.so``
(``tensorflow/python/profiler/internal``), which links its own copy statically;
each runs the same initializers and has its own absl state. The ``cuInit``
line is an ERROR, which ``TF_CPP_MIN_LOG_LEVEL=2`` (textlstm's library
default) lets through; only 3 hides it, and the ERROR that oneDNN logs during
training (``util.cc:131] oneDNN supports DT_BOOL only on platforms with
AVX-512``) likewise.

`setup` (called first by `textlstm.cli.main`) therefore leaves those lines out
of the start-up only: while TensorFlow is imported (whenever that happens, by a
hook on ``import tensorflow``) and its devices are first listed, standard error
(file descriptor 2, where C++ writes) goes to a temporary file, and afterwards
everything in it is written back except absl's banner and the C++ log lines
below the log level. Anything else (a Python warning or traceback, a C++ line
at or above the level) is kept; if the import fails, all of it is written
back. Later TensorFlow messages are left to ``TF_CPP_MIN_LOG_LEVEL``.

- unset: level 3 for the command (TensorFlow's C++ INFO, WARNING and ERROR
  logs hidden, FATAL shown; Python warnings and errors are not affected, and a
  failing TensorFlow operation still raises its Python exception with the
  message), and the start-up lines are left out (`device_line` says whether a
  GPU is visible, which is what the CUDA lines were about);
- set by the user: their level applies to the start-up lines too (1 leaves
  out INFO, 2 WARNING as well, 3 ERROR too); 0 shows everything;
- ``textlstm --tf-logs`` (anywhere on the command line): nothing is left out,
  and TensorFlow logs at level 0 unless the user set a level.

This module does not import TensorFlow (`device_line` does, when called).
"""

from __future__ import annotations

import importlib.abc
import os
import re
import sys
import tempfile
from contextlib import contextmanager

TF_LOGS_FLAG = "--tf-logs"
CLI_LOG_LEVEL = 3  # TF_CPP_MIN_LOG_LEVEL of a command when the user set none
_LEVEL_VAR = "TF_CPP_MIN_LOG_LEVEL"

# absl's notice, printed before the first log line of each copy of the runtime.
_ABSL_BANNER = re.compile(rb"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR")
# A C++ log line: severity letter, MMDD, time, thread id, file:line]
_LOG_LINE = re.compile(rb"^([IWEF])\d{4} [\d:.]+\s+\d+ [\w./+-]+:\d+\] ")
# cpu_feature_guard's second line (an INFO message of two lines).
_CONTINUATION = re.compile(
    rb"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler"
)
_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}

_state: dict = {"hook": None, "hide_below": None}


def filter_startup(data: bytes, hide_below: int) -> bytes:
    """The start-up output `data` without TensorFlow's C++ log lines of
    severity below `hide_below` (0 INFO, 1 WARNING, 2 ERROR, 3 FATAL, as
    ``TF_CPP_MIN_LOG_LEVEL`` counts) and, when anything is hidden, absl's banner.

    Args:
        data: what was written to standard error.
        hide_below: the severities below it are left out.

    Returns:
        The lines kept, as bytes.

    >>> startup = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n"
    ...            b"I0000 00:00:17.61    52 port.cc:153] oneDNN custom operations are on.\\n"
    ...            b"E0000 00:00:17.62    52 cuda_platform.cc:52] failed call to cuInit: INTERNAL\\n"
    ...            b"UserWarning: a real warning\\n")
    >>> filter_startup(startup, hide_below=3)
    b'UserWarning: a real warning\\n'
    >>> filter_startup(startup, hide_below=2).count(b"cuInit")
    1
    >>> filter_startup(startup, hide_below=0) == startup
    True
    """
    if hide_below <= 0:
        return data
    kept, dropped_last = [], False
    for line in data.splitlines(keepends=True):
        log = _LOG_LINE.match(line)
        if _ABSL_BANNER.match(line):
            drop = True
        elif log:
            drop = _SEVERITY[log.group(1)] < hide_below
        else:
            drop = dropped_last and bool(_CONTINUATION.match(line))
        if not drop:
            kept.append(line)
        dropped_last = drop
    return b"".join(kept)


@contextmanager
def filtered_stderr(hide_below: int):
    """Send file descriptor 2 to a temporary file for the duration, then write
    back what `filter_startup` keeps (everything, if the body raised).

    Args:
        hide_below: as for `filter_startup`.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no usable standard error: nothing to filter
        yield
        return
    capture = tempfile.TemporaryFile()
    os.dup2(capture.fileno(), 2)
    ok = False
    try:
        yield
        ok = True
    finally:
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        capture.seek(0)
        data = capture.read()
        capture.close()
        kept = filter_startup(data, hide_below) if ok else data
        while kept:
            try:
                kept = kept[os.write(2, kept) :]
            except OSError:
                break


class _QuietLoader:
    """Runs TensorFlow's own loader inside `filtered_stderr`, then lists its
    devices there too (the first query is what logs the cuInit error)."""

    def __init__(self, loader, hide_below: int):
        self._loader, self._hide_below = loader, hide_below

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr(self._hide_below):
            self._loader.exec_module(module)
            try:
                module.config.list_physical_devices()
            except Exception:  # noqa: BLE001  only triggers the start-up logs; later calls report errors
                pass
        if getattr(module, "__loader__", None) is self:  # leave no trace of the hook on the module
            module.__loader__ = self._loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader

    def __getattr__(self, name):
        if name == "_loader":
            raise AttributeError(name)
        return getattr(self._loader, name)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """A `sys.meta_path` entry that wraps the loader of the top-level
    ``tensorflow`` package in `_QuietLoader` (once; other modules untouched)."""

    def __init__(self, hide_below: int):
        self.hide_below, self.done = hide_below, False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow" or path is not None or self.done:
            return None
        self.done = True
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader, self.hide_below)
                return spec
        return None


def split_flag(argv: list[str]) -> tuple[list[str], bool]:
    """`argv` without ``--tf-logs`` (before any ``--``), and whether it was there.

    Args:
        argv: the command-line arguments (without the program name).

    >>> split_flag(["train", "p.yaml", "--tf-logs"])
    (['train', 'p.yaml'], True)
    >>> split_flag(["predict", "m.keras", "--", "--tf-logs"])
    (['predict', 'm.keras', '--', '--tf-logs'], False)
    """
    end = argv.index("--") if "--" in argv else len(argv)
    head = [a for a in argv[:end] if a != TF_LOGS_FLAG]
    return head + argv[end:], len(head) < end


def _level(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def setup(argv: list[str] | None = None, show_tf_logs: bool = False) -> list[str]:
    """Keep TensorFlow's start-up noise out of the console (see the module
    docstring); returns `argv` without ``--tf-logs``.

    Call it before TensorFlow is imported; once it is, only later messages
    remain and they follow ``TF_CPP_MIN_LOG_LEVEL``.

    Args:
        argv: command-line arguments; ``--tf-logs`` among them (or
            `show_tf_logs`) shows all of TensorFlow's logs.
        show_tf_logs: show them regardless of `argv`.

    Returns:
        The arguments for the parser.
    """
    import textlstm

    argv, flag = split_flag(list(sys.argv[1:] if argv is None else argv))
    user_level = getattr(textlstm, "_USER_TF_LOG_LEVEL", os.environ.get(_LEVEL_VAR))
    if flag or show_tf_logs:
        if user_level is None:
            os.environ[_LEVEL_VAR] = "0"
        _uninstall()
        return argv
    if user_level is None:
        os.environ[_LEVEL_VAR] = str(CLI_LOG_LEVEL)
        hide_below = CLI_LOG_LEVEL
    else:  # the user's level, also for the lines TensorFlow prints before reading it
        hide_below = _level(user_level) or 0
    if hide_below > 0 and "tensorflow" not in sys.modules:
        _install(hide_below)
    return argv


def _install(hide_below: int) -> None:
    _uninstall()
    hook = _QuietTensorFlowFinder(hide_below)
    sys.meta_path.insert(0, hook)
    _state["hook"] = hook


def _uninstall() -> None:
    hook = _state.get("hook")
    if hook is not None and hook in sys.meta_path:
        sys.meta_path.remove(hook)
    _state["hook"] = None


def add_arguments(parser) -> None:
    """Document ``--tf-logs`` in `parser`'s help (`setup` takes it out of the
    arguments, wherever it is, before they are parsed)."""
    parser.add_argument(
        TF_LOGS_FLAG,
        action="store_true",
        help="show TensorFlow's C++ start-up and runtime logs (hidden by default; "
        "TF_CPP_MIN_LOG_LEVEL, if set, is respected)",
    )


def device_line() -> str:
    """One plain line saying which device trains: ``textlstm: training on
    CPU (no GPU visible)``, ``textlstm: training on 1 GPU (NVIDIA H200)``.
    Keras places the model on the first GPU when there is one (textlstm uses
    no distribution strategy), so with several the line names the first and
    how many are visible."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "textlstm: training on CPU (no GPU visible)"
    try:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name") or gpus[0].name
    except Exception:  # noqa: BLE001  details are optional
        name = gpus[0].name
    if len(gpus) == 1:
        return f"textlstm: training on 1 GPU ({name})"
    return f"textlstm: training on 1 GPU ({name}, {gpus[0].name.split(':', 1)[-1]} of {len(gpus)} visible)"
