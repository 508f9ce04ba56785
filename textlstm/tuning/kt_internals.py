"""The keras-tuner internals textlstm still relies on, all in this one module.

keras-tuner has no public API for any of these. Each sits behind a small
named function or class here, and no other textlstm module imports
`keras_tuner.src` (`tests/test_private_apis.py` enforces that). The same
tests check that each internal still has the shape used here, so an upgrade
fails loudly and names the internal instead of misbehaving quietly.

Checked against keras-tuner 1.4.8; setup.cfg pins the tested minor range,
`keras-tuner[bayesian]>=1.4.7,<1.5` (`TESTED_RANGE`).

The internals, why each is needed, and where it is used:

- `keras_tuner.src.distribute.oracle_client.TIMEOUT`: the module constant
  that every `OracleClient` gRPC call passes as `timeout=` (60 minutes).
  `OracleClient` takes no timeout argument, so `client_timeout` sets the
  constant for the duration of a worker's sweep: a dead chief is an error
  after `--wait` seconds instead of an hour's hang
  (`textlstm.tuning.distributed.worker_timeouts`).
- `keras_tuner.src.distribute.oracle_chief.OracleServicer` (and its
  `stop_triggered` flag) with `keras_tuner.src.protos.get_service_grpc()`:
  the gRPC servicer for an oracle. keras-tuner's own `start_server` reads
  the address from the environment, ignores a port that is taken and checks
  every 20 s whether the workers have left; `add_oracle_servicer` lets
  `textlstm.tuning.distributed.serve_oracle` run the same servicer on its
  own server.
- `keras_tuner.src.engine.conditions.Parent.to_proto`: prints its first
  value on every call (a leftover debug `print` in 1.4.8), once per
  conditional hyperparameter per gRPC message; `silence_condition_print`
  wraps it so the print goes nowhere.
- `keras_tuner.engine.base_tuner.BaseTuner._populate_initial_space`, called
  by `BaseTuner.__init__` (a public class, a private method; its docstring
  names it as the override point for AutoKeras): keras-tuner builds the
  model, which reads the data, to discover the search space.
  `DeclaredSpaceTuner` overrides it so the space is only what the
  hypermodel's public `declare_hyperparameters` declares.

Replaced by public API (and cross-checked against keras-tuner's internals by
the same tests): chief detection (`distributed.is_chief`, from the
documented environment variables, was `distribute.utils.is_chief_oracle`),
the chief's trial lines (`tuners.SweepDisplay` wraps the public
`Oracle.create_trial`/`end_trial`, was a subclass of the private
`engine.oracle.Display` set as `oracle._display`), the Hyperband schedule
(`tuners.hyperband_schedule`, was `HyperbandOracle._get_num_brackets` and
`_get_size`), the end of a sweep (`distributed.sweep_finished` and
`workers_gone`, were `oracle._retry_queue` and `oracle_chief.exit_chief`),
and the per-trial build (`self.hypermodel.build`, was `Tuner._try_build`
with a `_build_hypermodel` override).

grpc and keras-tuner's protos are imported inside the functions, as
keras-tuner itself does, so importing this module loads neither.
"""

from __future__ import annotations

import contextlib
import functools
import io

TESTED_RANGE = ("1.4.7", "1.5")  # keras-tuner >=1.4.7,<1.5, as pinned in setup.cfg
CHECKED_AGAINST = "1.4.8"

CLIENT_TIMEOUT_MODULE = "keras_tuner.src.distribute.oracle_client"
SERVICER_MODULE = "keras_tuner.src.distribute.oracle_chief"
PROTOS_MODULE = "keras_tuner.src.protos"
CONDITIONS_MODULE = "keras_tuner.src.engine.conditions"


@contextlib.contextmanager
def client_timeout(seconds: float):
    """Bound every gRPC call of keras-tuner's `OracleClient` by `seconds`.

    Sets `oracle_client.TIMEOUT` (read at each call) and restores it on exit.

    Args:
        seconds: The deadline of each call a worker makes to the chief.
    """
    from keras_tuner.src.distribute import oracle_client

    saved = oracle_client.TIMEOUT
    oracle_client.TIMEOUT = seconds
    try:
        yield
    finally:
        oracle_client.TIMEOUT = saved


def add_oracle_servicer(oracle, server):
    """Register keras-tuner's `OracleServicer` for `oracle` on a gRPC server.

    Args:
        oracle: The chief's `keras_tuner.Oracle`.
        server: A `grpc.Server`, not started yet.

    Returns:
        The servicer; its `stop_triggered` turns true once the oracle has
        told a worker to stop (no more trials to hand out).
    """
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    return servicer


def silence_condition_print() -> None:
    """Wrap `conditions.Parent.to_proto` so its stray `print` goes nowhere
    (idempotent; the original stays reachable as `__wrapped__`)."""
    from keras_tuner.src.engine import conditions

    original = conditions.Parent.to_proto
    if getattr(original, "_textlstm_quiet", False):
        return

    @functools.wraps(original)
    def to_proto(self):
        with contextlib.redirect_stdout(io.StringIO()):
            return original(self)

    to_proto._textlstm_quiet = True
    conditions.Parent.to_proto = to_proto


class DeclaredSpaceTuner:
    """Tuner mixin: the search space is what the hypermodel's
    `declare_hyperparameters(hp)` declares; no model is built (and no data
    read) when the tuner is created. Put it before the keras-tuner class in
    the bases."""

    def _populate_initial_space(self):  # keras-tuner's hook, called by BaseTuner.__init__
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)
