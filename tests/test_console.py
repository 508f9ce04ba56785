"""What the console script prints: no TensorFlow start-up noise, one device
line, and one line per epoch when standard output is a file."""

import io
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from textlstm.console import filter_startup, split_flag

# As a user's shell would have it: no TF_CPP_MIN_LOG_LEVEL (conftest sets one for the tests themselves).
ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"} | {"MPLBACKEND": "Agg"}
NOISE = ("E0000", "cuInit", "absl::InitializeLog", "port.cc:", "cudart_stub", "oneDNN")
STARTUP = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796172972.614580    5232 port.cc:153] oneDNN custom operations are on.\n"
    b"I0000 00:00:1796172972.614974    5232 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    b"appropriate compiler flags.\n"
    b"W0000 00:00:1796172972.7    5232 something.cc:1] a warning\n"
    b"E0000 00:00:1796173003.515626    5571 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n"
    b"/x.py:3: UserWarning: a Python warning\n"
)


def test_filter_startup_follows_the_log_level():
    assert filter_startup(STARTUP, 3) == b"/x.py:3: UserWarning: a Python warning\n"
    kept = filter_startup(STARTUP, 2).splitlines()
    assert kept == [STARTUP.splitlines()[5], STARTUP.splitlines()[6]]
    assert len(filter_startup(STARTUP, 1).splitlines()) == 3  # the WARNING, the ERROR and the Python line
    assert filter_startup(STARTUP, 0) == STARTUP


def test_split_flag():
    assert split_flag(["--tf-logs", "info", "m.keras"]) == (["info", "m.keras"], True)
    assert split_flag(["info", "m.keras"]) == (["info", "m.keras"], False)


def test_filtered_stderr_keeps_python_output_and_everything_on_failure():
    code = textwrap.dedent("""
        import os, sys, warnings
        from textlstm.console import filtered_stderr
        with filtered_stderr(3):
            os.write(2, b"I0000 00:00:17.6    52 port.cc:153] oneDNN custom operations are on.\\n")
            warnings.warn("a Python warning")
            print("to stderr", file=sys.stderr)
        try:
            with filtered_stderr(3):
                os.write(2, b"E0000 00:00:17.6    52 x.cc:1] the C++ side of a failure\\n")
                raise ImportError("broken install")
        except ImportError as err:
            print("raised:", err, file=sys.stderr)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "oneDNN" not in proc.stderr
    assert "UserWarning: a Python warning" in proc.stderr and "to stderr" in proc.stderr
    assert "the C++ side of a failure" in proc.stderr and "raised: broken install" in proc.stderr


def test_resolve_verbose(monkeypatch):
    from textlstm.training import resolve_verbose

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", Terminal())
    assert resolve_verbose("auto") == 1
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert resolve_verbose("auto") == 2
    assert [resolve_verbose(v) for v in (0, 1, 2, "0", "2")] == [0, 1, 2, 0, 2]


@pytest.fixture(scope="module")
def train_to_file(tmp_path_factory):
    """`textlstm train` on a tiny demo, stdout and stderr redirected to files (not a terminal)."""
    folder = tmp_path_factory.mktemp("console")
    out = folder / "run"
    sets = ["data.demo_size=200", "train.epochs=2", "train.patience=null", "model.units=[8]", "train.tensorboard=false"]
    with open(folder / "stdout.txt", "w") as stdout, open(folder / "stderr.txt", "w") as stderr:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "textlstm.cli",
                "train",
                "pipelines/sentiment_demo.yaml",
                *[x for s in sets for x in ("--set", s)],
                "--output",
                str(out),
            ],
            stdout=stdout,
            stderr=stderr,
            env=ENV,
            cwd=REPO,
            timeout=600,
        )
    stdout, stderr = (folder / "stdout.txt").read_text(), (folder / "stderr.txt").read_text()
    assert proc.returncode == 0, stderr[-3000:]
    return out, stdout, stderr


def test_train_output_has_no_tensorflow_noise_and_one_device_line(train_to_file):
    out, stdout, stderr = train_to_file
    both = stdout + stderr
    assert not [line for line in both.splitlines() if any(n in line for n in NOISE)], both[:3000]
    devices = [line for line in both.splitlines() if line.startswith("textlstm: training on ")]
    assert len(devices) == 1 and re.fullmatch(
        r"textlstm: training on (CPU \(no GPU visible\)|\d+ GPU \(.+\))", devices[0]
    ), devices


def test_train_to_a_file_prints_one_line_per_epoch(train_to_file):
    out, stdout, _ = train_to_file
    assert "\r" not in stdout and "\b" not in stdout and "━" not in stdout  # no progress bar updates
    lines = stdout.splitlines()
    assert [line for line in lines if line.startswith("Epoch ")] == ["Epoch 1/2", "Epoch 2/2"]
    summaries = [line for line in lines if re.match(r"\d+/\d+ - .*loss: ", line)]
    assert len(summaries) == 2 and all("val_loss" in line for line in summaries)
    # history.csv is complete, its partial version and temporary files are gone.
    assert len((out / "history.csv").read_text().splitlines()) == 3
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name or "partial" in p.name]
