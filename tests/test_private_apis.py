"""The third-party internals textlstm relies on, pinned: each test names one.

`textlstm.tuning.kt_internals` holds every keras-tuner internal that is still
used; the tests here check that each one still has the shape used there, so
a keras-tuner upgrade fails here, naming the internal, instead of hanging a
worker or printing noise. The public replacements of former internals are
cross-checked against the keras-tuner code they replaced. The last tests
keep `keras_tuner.src` and `keras.src` out of every other textlstm module.
"""

import ast
import configparser
import inspect
import os
import re
from concurrent import futures
from pathlib import Path

import keras_tuner as kt
import pytest

from conftest import REPO
from textlstm.tuning import distributed, kt_internals
from textlstm.tuning.tuners import (
    BayesianTuner,
    HyperbandTuner,
    RandomSearchTuner,
    SweepDisplay,
    hyperband_schedule,
)

PACKAGE = Path(REPO) / "textlstm"
INTERNALS_MODULE = PACKAGE / "tuning" / "kt_internals.py"


def _version(text: str) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _changed(internal: str, detail: str) -> str:
    return (
        f"keras-tuner {kt.__version__}: the internal {internal} changed ({detail}); "
        f"textlstm/tuning/kt_internals.py was checked against {kt_internals.CHECKED_AGAINST}"
    )


class Declared(kt.HyperModel):
    """A hypermodel that declares a space (with a conditional) and must never be built here."""

    def declare_hyperparameters(self, hp):
        hp.Int("x", 0, 99)
        cell = hp.Choice("cell", ["lstm", "gru"])
        with hp.conditional_scope("cell", ["lstm"]):
            hp.Int("units", 1, 4)
        return cell

    def build(self, hp):
        raise AssertionError("the tuner built a model to discover the space")


class DeclaredRandomSearch(kt_internals.DeclaredSpaceTuner, kt.RandomSearch):
    pass


def make_oracle(tmp_path, max_trials=1, overwrite=True):
    """A real RandomSearch oracle with a project directory, made through public API."""
    tuner = DeclaredRandomSearch(
        hypermodel=Declared(),
        objective=kt.Objective("score", "max"),
        max_trials=max_trials,
        max_retries_per_trial=1,
        seed=0,
        directory=str(tmp_path),
        project_name="p",
        overwrite=overwrite,
    )
    tuner.oracle.verbose = 0  # as make_tuner: keras-tuner's own tables off
    return tuner


def complete(oracle, trial, score):
    oracle.update_trial(trial.trial_id, {"score": score})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


# ------------------------------------------------------------------ version pin


def test_keras_tuner_version_is_in_the_pinned_tested_range():
    low, high = kt_internals.TESTED_RANGE
    assert _version(low) <= _version(kt.__version__) < _version(high), (
        f"keras-tuner {kt.__version__} is outside the tested range >={low},<{high}: re-check every entry "
        f"of textlstm/tuning/kt_internals.py, then widen TESTED_RANGE and setup.cfg together"
    )
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(REPO, "setup.cfg"))
    pins = [
        line.strip()
        for line in cfg["options"]["install_requires"].splitlines()
        if line.strip().startswith("keras-tuner")
    ]
    assert pins == [f"keras-tuner[bayesian]>={low},<{high}"], pins
    assert _version(low) <= _version(kt_internals.CHECKED_AGAINST) < _version(high)


# ---------------------------------------------------------- remaining internals


def test_oracle_client_timeout_constant():
    try:
        from keras_tuner.src.distribute import oracle_client
    except ImportError as err:
        pytest.fail(_changed(kt_internals.CLIENT_TIMEOUT_MODULE, f"module gone: {err}"))
    assert isinstance(getattr(oracle_client, "TIMEOUT", None), (int, float)), _changed(
        f"{kt_internals.CLIENT_TIMEOUT_MODULE}.TIMEOUT", "no numeric module constant"
    )
    # Setting the module constant only bounds the calls if every RPC reads it at call time.
    client = getattr(oracle_client, "OracleClient", None)
    assert client is not None, _changed(f"{kt_internals.CLIENT_TIMEOUT_MODULE}.OracleClient", "class gone")
    rpcs = 0
    for name, method in inspect.getmembers(client, inspect.isfunction):
        source = inspect.getsource(method)
        calls = source.count("self.stub.")
        rpcs += calls
        assert source.count("timeout=TIMEOUT") == calls, _changed(
            f"OracleClient.{name}", "a gRPC call no longer passes timeout=TIMEOUT"
        )
    assert rpcs >= 7, _changed("OracleClient", f"expected its 7 gRPC calls, found {rpcs}")

    saved = oracle_client.TIMEOUT
    with kt_internals.client_timeout(2.5):
        assert oracle_client.TIMEOUT == 2.5
    assert oracle_client.TIMEOUT == saved
    with distributed.worker_timeouts("127.0.0.1:1", 4.0):  # the wiring textlstm uses
        assert oracle_client.TIMEOUT == 4.0
    assert oracle_client.TIMEOUT == saved


def test_oracle_servicer_and_its_stop_flag(tmp_path):
    import grpc

    try:
        from keras_tuner.src import protos
        from keras_tuner.src.distribute.oracle_chief import OracleServicer
    except ImportError as err:
        pytest.fail(
            _changed(
                f"{kt_internals.SERVICER_MODULE}.OracleServicer / {kt_internals.PROTOS_MODULE}", f"import failed: {err}"
            )
        )
    assert list(inspect.signature(OracleServicer).parameters) == ["oracle"], _changed(
        "OracleServicer.__init__", str(inspect.signature(OracleServicer))
    )
    add = getattr(protos.get_service_grpc(), "add_OracleServicer_to_server", None)
    assert add is not None and list(inspect.signature(add).parameters) == ["servicer", "server"], _changed(
        "protos.get_service_grpc().add_OracleServicer_to_server", "missing or other parameters"
    )
    for rpc in ("GetSpace", "UpdateSpace", "CreateTrial", "UpdateTrial", "EndTrial", "GetTrial", "GetBestTrials"):
        assert callable(getattr(OracleServicer, rpc, None)), _changed(f"OracleServicer.{rpc}", "gone")

    oracle = make_oracle(tmp_path).oracle
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    try:
        servicer = kt_internals.add_oracle_servicer(oracle, server)
        assert isinstance(servicer, OracleServicer) and servicer.stop_triggered is False, _changed(
            "OracleServicer.stop_triggered", "not False on a new servicer"
        )
        request = protos.get_service().CreateTrialRequest(tuner_id="worker-1")
        first = servicer.CreateTrial(request, None).trial
        assert not servicer.stop_triggered
        complete(oracle, oracle.get_trial(first.trial_id), 0.5)
        servicer.CreateTrial(request, None)  # max_trials reached: the oracle says stop
        assert servicer.stop_triggered is True, _changed(
            "OracleServicer.stop_triggered", "not set when the oracle stops a worker"
        )
    finally:
        server.stop(0)


def test_parent_condition_to_proto_print_is_silenced(capsys):
    try:
        from keras_tuner.src.engine import conditions
    except ImportError as err:
        pytest.fail(_changed(kt_internals.CONDITIONS_MODULE, f"module gone: {err}"))
    to_proto = getattr(conditions.Parent, "to_proto", None)
    assert to_proto is not None, _changed("conditions.Parent.to_proto", "gone")
    original = getattr(to_proto, "__wrapped__", to_proto)
    assert list(inspect.signature(original).parameters) == ["self"], _changed(
        "conditions.Parent.to_proto", str(inspect.signature(original))
    )
    assert "print(" in inspect.getsource(original), _changed(
        "conditions.Parent.to_proto", "its stray print is gone: drop kt_internals.silence_condition_print"
    )

    kt_internals.silence_condition_print()
    kt_internals.silence_condition_print()  # idempotent: wrapped once
    assert conditions.Parent.to_proto.__wrapped__ is original
    capsys.readouterr()
    proto = conditions.Parent("cell", ["lstm", "gru"]).to_proto()
    assert capsys.readouterr().out == ""
    assert proto.parent.name == "cell" and [v.string_value for v in proto.parent.values] == ["lstm", "gru"]


def test_populate_initial_space_hook(tmp_path):
    from keras_tuner.engine.base_tuner import BaseTuner  # public path of the class

    hook = getattr(BaseTuner, "_populate_initial_space", None)
    assert hook is not None, _changed("BaseTuner._populate_initial_space", "gone")
    assert list(inspect.signature(hook).parameters) == ["self"], _changed(
        "BaseTuner._populate_initial_space", str(inspect.signature(hook))
    )
    assert "self._populate_initial_space()" in inspect.getsource(BaseTuner.__init__), _changed(
        "BaseTuner._populate_initial_space", "BaseTuner.__init__ no longer calls it"
    )
    for tuner in (RandomSearchTuner, HyperbandTuner, BayesianTuner):
        assert tuner._populate_initial_space is kt_internals.DeclaredSpaceTuner._populate_initial_space

    space = make_oracle(tmp_path).oracle.get_space()  # Declared.build raises if called
    assert {hp.name for hp in space.space} == {"x", "cell", "units"}


# ------------------------------------------- public replacements, cross-checked


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"KERASTUNER_TUNER_ID": "chief"},  # no oracle address: not distributed
        {"KERASTUNER_TUNER_ID": "chief", "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"},
        {"KERASTUNER_TUNER_ID": "chief-0", "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"},
        {"KERASTUNER_TUNER_ID": "worker-1", "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"},
        {"KERASTUNER_TUNER_ID": "tuner0", "KERASTUNER_ORACLE_IP": "10.0.0.2", "KERASTUNER_ORACLE_PORT": "1"},
    ],
)
def test_is_chief_agrees_with_keras_tuners_chief_rule(monkeypatch, env):
    from keras_tuner.src.distribute import utils

    for key in distributed.ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert distributed.is_chief() == utils.is_chief_oracle(), (
        f"keras-tuner's chief rule (distribute.utils.is_chief_oracle) differs from "
        f"textlstm.tuning.distributed.is_chief for {env}"
    )


def test_hyperband_schedule_agrees_with_keras_tuners_oracle():
    for factor in range(2, 7):
        for max_epochs in [*range(1, 61), 81, 100, 125, 243, 500, 1000]:
            oracle = kt.oracles.HyperbandOracle(max_epochs=max_epochs, factor=factor)
            brackets = oracle._get_num_brackets()
            expected = sum(oracle._get_size(b, r) for b in range(brackets) for r in range(b + 1))
            assert hyperband_schedule(max_epochs, factor) == expected, (
                f"HyperbandOracle's schedule (max_epochs={max_epochs}, factor={factor}) is {expected} trials, "
                f"textlstm.tuning.tuners.hyperband_schedule says {hyperband_schedule(max_epochs, factor)}"
            )


def test_sweep_finished_and_workers_gone_agree_with_the_oracle(tmp_path):
    from keras_tuner.src.distribute.oracle_chief import exit_chief

    tuner = make_oracle(tmp_path)
    oracle = tuner.oracle

    def check(finished, gone):
        assert distributed.sweep_finished(oracle) is finished
        assert distributed.workers_gone(oracle) is gone
        assert exit_chief(oracle) == gone, "keras-tuner's oracle_chief.exit_chief differs from workers_gone"
        if finished:
            assert not oracle._retry_queue

    check(False, True)
    trial = oracle.create_trial("worker-1")
    check(False, False)
    trial.status, trial.message = "INVALID", "boom"
    oracle.end_trial(trial)  # one retry left: queued
    assert oracle._retry_queue == [trial.trial_id], "keras-tuner no longer queues a trial with retries left"
    check(False, False)
    retried = oracle.create_trial("worker-1")
    assert retried.trial_id == trial.trial_id
    complete(oracle, retried, 0.5)
    check(True, False)  # the worker has not been told to stop yet
    assert oracle.create_trial("worker-1").status == "STOPPED"
    check(True, True)

    # A chief killed while a trial ran: the reloaded oracle queues it for a retry.
    tuner = make_oracle(tmp_path / "killed")
    tuner.oracle.create_trial("worker-1")
    tuner.save()
    reloaded = make_oracle(tmp_path / "killed", overwrite=False).oracle
    assert len(reloaded._retry_queue) == 1 and not reloaded.ongoing_trials
    assert distributed.sweep_finished(reloaded) is False


def test_sweep_display_prints_a_line_per_trial_a_worker_ends(tmp_path, capsys):
    oracle = make_oracle(tmp_path, max_trials=2).oracle
    SweepDisplay(oracle, 2).attach()
    capsys.readouterr()
    trial = oracle.create_trial("worker-1")
    complete(oracle, oracle.get_trial(trial.trial_id), 0.75)
    trial = oracle.create_trial("worker-2")
    trial.status, trial.message = "FAILED", "out of memory"
    oracle.end_trial(trial)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("trial 1/2 ") and "-> score=0.7500 (best 0.7500)" in lines[0]
    assert lines[0].endswith("[worker-1]") and re.search(r" \d+\.\ds \[", lines[0])
    assert lines[1].startswith("trial 2/2 ") and "-> failed: out of memory" in lines[1]
    assert lines[1].endswith("[worker-2]")
    assert not oracle.ongoing_trials


# --------------------------------------------- no private imports elsewhere

PRIVATE_PACKAGES = ("keras_tuner.src", "keras.src")
# keras-tuner / Keras private names textlstm once used; only kt_internals may mention them.
PRIVATE_NAMES = re.compile(
    r"\._display\b|\._retry_queue\b|_get_num_brackets|\._get_size\b|_try_build\b"
    r"|_build_hypermodel\b|_populate_initial_space\b|set_keras_mask|_keras_mask\b|\bexit_chief\b"
    r"|\bis_chief_oracle\b"
)


def _private_imports_in(source: str) -> list[tuple[int, str]]:
    """(line, module) of each import of a private package: import statements and
    `importlib.import_module` / `__import__` calls with a literal name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [f"{node.module}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
        ):
            modules = [node.args[0].value]
        for module in modules:
            if any(module == p or module.startswith(p + ".") for p in PRIVATE_PACKAGES):
                found.append((node.lineno, module))
    return found


def _private_imports(path: Path) -> list[str]:
    return [
        f"{path.relative_to(REPO)}:{line}: {module}"
        for line, module in _private_imports_in(path.read_text(encoding="utf-8"))
    ]


def _sources():
    files = sorted(PACKAGE.rglob("*.py"))
    assert INTERNALS_MODULE in files and len(files) > 20
    return files


def test_private_packages_are_imported_only_in_kt_internals():
    found = [hit for path in _sources() if path != INTERNALS_MODULE for hit in _private_imports(path)]
    assert not found, (
        "keras_tuner.src / keras.src imported outside textlstm/tuning/kt_internals.py (put the "
        "internal there, with a test here): " + "; ".join(found)
    )
    # kt_internals itself imports keras-tuner internals only (no Keras ones).
    assert all("keras_tuner.src" in hit for hit in _private_imports(INTERNALS_MODULE))


def test_known_private_names_are_used_only_in_kt_internals():
    found = []
    for path in _sources():
        if path == INTERNALS_MODULE:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "_distribute_strategy" in line and path != PACKAGE / "distribute.py":
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()} (only textlstm/distribute.py)")
            if PRIVATE_NAMES.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, "private keras-tuner/Keras names outside kt_internals.py: " + "; ".join(found)


def test_the_import_checker_sees_private_imports():
    sample = (
        "import keras.src.backend\nfrom keras_tuner.src.engine import oracle\n"
        "from keras_tuner import src\nimport importlib\nimportlib.import_module('keras.src.ops')\n"
        'import keras_tuner\nfrom keras import ops\n"""keras.src in a docstring"""\n'
    )
    assert sorted(_private_imports_in(sample)) == [
        (1, "keras.src.backend"),
        (2, "keras_tuner.src.engine.oracle"),
        (3, "keras_tuner.src"),
        (5, "keras.src.ops"),
    ]
    assert PRIVATE_NAMES.search("tuner.oracle._display = x") and not PRIVATE_NAMES.search("oracle.display")


def test_keras_model_keeps_its_strategy_in_distribute_strategy():
    """`textlstm.distribute.forget_strategy` (the one Keras internal of train.distribute):
    a model made in a strategy's scope stores it in `_distribute_strategy`, and without it
    `distribute_strategy` is the strategy of the current scope."""
    import keras
    import tensorflow as tf

    from textlstm.distribute import forget_strategy

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert model._distribute_strategy is strategy, f"keras {keras.__version__}: Model._distribute_strategy changed"
    forget_strategy(model)
    assert model.distribute_strategy is tf.distribute.get_strategy()
    with strategy.scope():
        assert model.distribute_strategy is strategy
