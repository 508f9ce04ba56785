"""The errors textlstm raises for bad input, each a `ValueError` whose message
names the file, line or key and the problem.

The CLI prints these as one line (`textlstm: error: ...`, exit status 2);
anything else is a bug and keeps its traceback.

>>> str(ConfigError("model.units must list at least one layer size"))
'model.units must list at least one layer size'
>>> issubclass(DataError, ValueError)
True
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A pipeline file, override or argument that cannot be used as given."""


class DataError(ValueError):
    """Input data that cannot be used; the message names file, line and problem."""


class ArtifactError(ValueError):
    """A file that is not a textlstm artifact, or that cannot be loaded."""
