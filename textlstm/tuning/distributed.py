"""Keras Tuner's chief/worker mode: one chief process serves the oracle over
gRPC, workers ask it for trials, train them and report back.

Keras Tuner selects the mode from environment variables read when a tuner is
created and during `search`: `KERASTUNER_TUNER_ID` ("chief" or a worker id),
`KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`. `role_environment`
sets them for the duration of a sweep and restores them afterwards.

Changes to Keras Tuner's behaviour (bounded waits, quiet output):

- a worker first checks that the chief answers (`wait_for_chief`), and its
  gRPC calls time out after `wait` seconds instead of Keras Tuner's 60
  minutes, so a missing or dead chief is an error, not a hang;
- the chief serves the oracle with `serve_oracle`, Keras Tuner's servicer
  with a 0.5 s poll (its own `start_server` checks every 20 s whether the
  last worker has left) and a clear error when the port is taken;
- keras-tuner 1.4.8 prints a stray value whenever a conditional
  hyperparameter goes over gRPC (`quiet_condition_protos` silences it).

```python
with role_environment("worker-1", "127.0.0.1:8000"):
    ...  # create the tuner and search
```
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from concurrent import futures

ENV_KEYS = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


class SweepError(RuntimeError):
    """A distributed sweep cannot go on (unreachable chief, port taken)."""


def parse_address(address: str) -> tuple[str, int]:
    from textlstm.config import ConfigError

    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"expected HOST:PORT, got '{address}'")
    return host, int(port)


@contextlib.contextmanager
def role_environment(tuner_id: str | None, address: str | None):
    """Set (or clear, for a local sweep) Keras Tuner's distribution variables."""
    if address is not None:
        quiet_condition_protos()
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    for key in ENV_KEYS:
        os.environ.pop(key, None)
    if address is not None:
        host, port = parse_address(address)
        os.environ.update({"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host,
                           "KERASTUNER_ORACLE_PORT": str(port)})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_for_chief(address: str, wait: float) -> None:
    """Raise `SweepError` unless the chief's gRPC server answers within `wait` seconds."""
    import grpc

    host, port = parse_address(address)
    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=wait)
    except grpc.FutureTimeoutError:
        raise SweepError(f"could not reach the chief at {host}:{port} within {wait:g} s; start it first with "
                         f"`textlstm tune PIPELINE --dir DIR --chief {host}:{port}` (or raise --wait)") from None
    finally:
        channel.close()


@contextlib.contextmanager
def worker_timeouts(address: str, wait: float):
    """Bound every call a worker makes to the chief by `wait` seconds and turn
    gRPC failures into `SweepError`."""
    import grpc
    from keras_tuner.src.distribute import oracle_client

    saved = oracle_client.TIMEOUT
    oracle_client.TIMEOUT = wait
    try:
        yield
    except grpc.RpcError as err:
        raise SweepError(f"lost the chief at {address}: {err.code().name} ({err.details()})") from None
    finally:
        oracle_client.TIMEOUT = saved


def quiet_condition_protos() -> None:
    """keras-tuner 1.4.8's `Parent.to_proto` prints its first value (a stray
    debug print), once per conditional hyperparameter per gRPC message; keep
    it off the progress output."""
    from keras_tuner.src.engine import conditions

    original = conditions.Parent.to_proto
    if getattr(original, "_textlstm_quiet", False):
        return

    def to_proto(self):
        with contextlib.redirect_stdout(io.StringIO()):
            return original(self)

    to_proto._textlstm_quiet = True
    conditions.Parent.to_proto = to_proto


def serve_oracle(oracle, address: str, poll: float = 0.5) -> None:
    """Serve `oracle` until it has stopped handing out trials and every worker
    has left (Keras Tuner's `oracle_chief.start_server`, polling faster)."""
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    host, port = parse_address(address)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise SweepError(f"the chief cannot listen on {host}:{port} (port in use?)")
    server.start()
    try:
        while not (servicer.stop_triggered and exit_chief(oracle)):
            time.sleep(poll)
    finally:
        server.stop(grace=2)


def sweep_finished(oracle) -> bool:
    """True when the oracle will hand out no more trials (all ended, max_trials reached)."""
    return bool(oracle.max_trials and len(oracle.trials) >= oracle.max_trials and not oracle.ongoing_trials
                and not oracle._retry_queue)
