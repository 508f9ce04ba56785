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

The keras-tuner internals these need live in `textlstm.tuning.kt_internals`;
the rest (`is_chief`, `sweep_finished`, `workers_gone`) reads only the
documented environment variables and public `Oracle` attributes.

```python
with role_environment("worker-1", "127.0.0.1:8000"):
    ...  # create the tuner and search
```
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent import futures

from textlstm.tuning import kt_internals

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
        os.environ.update(
            {"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host, "KERASTUNER_ORACLE_PORT": str(port)}
        )
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
        raise SweepError(
            f"could not reach the chief at {host}:{port} within {wait:g} s; start it first with "
            f"`textlstm tune PIPELINE --dir DIR --chief {host}:{port}` (or raise --wait)"
        ) from None
    finally:
        channel.close()


@contextlib.contextmanager
def worker_timeouts(address: str, wait: float):
    """Bound every call a worker makes to the chief by `wait` seconds and turn
    gRPC failures into `SweepError`."""
    import grpc

    try:
        with kt_internals.client_timeout(wait):
            yield
    except grpc.RpcError as err:
        raise SweepError(f"lost the chief at {address}: {err.code().name} ({err.details()})") from None


def quiet_condition_protos() -> None:
    """keras-tuner 1.4.8's `Parent.to_proto` prints its first value (a stray
    debug print), once per conditional hyperparameter per gRPC message; keep
    it off the progress output."""
    kt_internals.silence_condition_print()


def is_chief() -> bool:
    """Whether this process is a distributed sweep's chief, by keras-tuner's
    documented environment variables: `KERASTUNER_ORACLE_IP` set and
    `KERASTUNER_TUNER_ID` naming the chief (keras-tuner's own test is that
    the id contains "chief", which is why a worker's id must not)."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" in os.environ.get("KERASTUNER_TUNER_ID", "")


def serve_oracle(oracle, address: str, poll: float = 0.5) -> None:
    """Serve `oracle` until it has stopped handing out trials and every worker
    has left (Keras Tuner's `oracle_chief.start_server`, polling faster)."""
    import grpc

    host, port = parse_address(address)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = kt_internals.add_oracle_servicer(oracle, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise SweepError(f"the chief cannot listen on {host}:{port} (port in use?)")
    server.start()
    try:
        while not (servicer.stop_triggered and workers_gone(oracle)):
            time.sleep(poll)
    finally:
        server.stop(grace=2)


def workers_gone(oracle) -> bool:
    """True when no trial is running and every worker has been told to stop
    (the oracle drops a worker's id when it hands it the stop).

    Args:
        oracle: The chief's `keras_tuner.Oracle`.
    """
    return not oracle.ongoing_trials and not oracle.tuner_ids


def sweep_finished(oracle) -> bool:
    """True when the oracle will hand out no more trials: max_trials reached,
    none running and none waiting for a retry.

    A trial that failed but has retries left (or was running when the chief
    was killed) is in `oracle.trials` but neither running nor in
    `oracle.end_order`, the trials that ended for good.

    Args:
        oracle: The sweep's `keras_tuner.Oracle`.
    """
    if not (oracle.max_trials and len(oracle.trials) >= oracle.max_trials) or oracle.ongoing_trials:
        return False
    ended = set(oracle.end_order)
    return all(trial_id in ended for trial_id in oracle.trials)
