"""No half-written files: `textlstm.files` writes to a temporary name and
renames it into place, so a process killed while saving leaves the previous
file. The kill tests run the save in a subprocess that SIGKILLs itself midway."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import REPO
from textlstm.files import (
    atomic_directory,
    atomic_path,
    is_temporary,
    temporary_name,
    write_bytes_atomic,
    write_text_atomic,
)

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": REPO}


def run_killed(script: str, cwd) -> subprocess.CompletedProcess:
    """Run `script`, which must die of SIGKILL (in the middle of a save)."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, f"rc={proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_temporary_name_keeps_folder_and_suffix(tmp_path):
    tmp = temporary_name(tmp_path / "model.keras")
    assert tmp.parent == tmp_path and tmp.name == f"model.tmp-{os.getpid()}.keras" and is_temporary(tmp)
    assert temporary_name(tmp_path / "saved_model").name == f"saved_model.tmp-{os.getpid()}"
    assert temporary_name(tmp_path / "history.partial.csv").suffix == ".csv"
    assert not any(is_temporary(n) for n in ("model.keras", "history.partial.csv", "my.tmp-notes.txt"))


def test_atomic_path_replaces_on_success_and_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "sub" / "trials.csv"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".csv" and not tmp.exists()
        tmp.write_text("good\n")
        assert not target.exists()  # nothing at the real name until the writer has finished
    assert target.read_text() == "good\n"
    for error in (RuntimeError("disk full"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with atomic_path(target) as tmp:
                tmp.write_text("half")
                raise error
        assert target.read_text() == "good\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["trials.csv"]


def test_write_text_atomic_with_a_failing_rename(tmp_path, monkeypatch):
    path = write_text_atomic(tmp_path / "metrics.json", json.dumps({"accuracy": 0.9}))
    write_bytes_atomic(tmp_path / "raw.bin", b"\x00\x01")
    assert (tmp_path / "raw.bin").read_bytes() == b"\x00\x01"

    def broken(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="rename failed"):
        write_text_atomic(path, json.dumps({"accuracy": 0.1}))
    assert json.loads(path.read_text()) == {"accuracy": 0.9}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "raw.bin"]


def test_atomic_directory_swaps_and_recovers(tmp_path):
    target = tmp_path / "saved_model"
    for version in ("1", "2"):
        with atomic_directory(target) as tmp:
            (tmp / "variables").mkdir(parents=True)
            (tmp / "saved_model.pb").write_text(version)
    assert (target / "saved_model.pb").read_text() == "2"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            tmp.mkdir()
            (tmp / "saved_model.pb").write_text("half")
            raise RuntimeError("killed")
    assert (target / "saved_model.pb").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved_model"]
    # A kill between the two renames: the previous version waits at saved_model.old-<pid>.
    os.replace(target, tmp_path / "saved_model.old-12345")
    with atomic_directory(target) as tmp:
        assert (target / "saved_model.pb").read_text() == "2"  # moved back before writing
        tmp.mkdir()
        (tmp / "saved_model.pb").write_text("3")
    assert (target / "saved_model.pb").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved_model"]


def test_a_kill_while_writing_metrics_leaves_the_previous_file(tmp_path):
    proc = run_killed(
        """
        import io, json, os, signal
        import textlstm.files as files
        files.write_text_atomic("metrics.json", json.dumps({"accuracy": 0.9, "pad": "x" * 5000}))

        class Dying(io.StringIO):
            def write(self, text):
                with open(self.path, "w") as f:
                    f.write(text[: len(text) // 2])  # half of the new file is on disk ...
                os.kill(os.getpid(), signal.SIGKILL)  # ... when the process dies
            def __enter__(self):
                return self

        def dying_open(path, *args, **kwargs):
            f = Dying()
            f.path = path
            return f

        files.open = dying_open  # the name write_text_atomic opens the temporary file with
        print(os.getpid(), flush=True)
        files.write_text_atomic("metrics.json", json.dumps({"accuracy": 0.1, "pad": "y" * 5000}))
    """,
        tmp_path,
    )
    pid = int(proc.stdout.split()[0])
    assert json.loads((tmp_path / "metrics.json").read_text())["accuracy"] == 0.9
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["metrics.json", f"metrics.tmp-{pid}.json"] and is_temporary(left[1])
    with pytest.raises(json.JSONDecodeError):  # the cut-off new version, never at the real name
        json.loads((tmp_path / left[1]).read_text())


def test_a_kill_while_saving_a_keras_model_leaves_the_previous_model(tmp_path):
    """save_keras twice: the second save dies halfway through writing the
    weights into the zip; model.keras must still be the first, whole."""
    proc = run_killed(
        """
        import os, signal, zipfile
        import numpy as np
        import keras
        from textlstm.saving import save_keras

        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
        model.compile("adam", "mse")
        model.layers[0].set_weights([np.full((3, 2), 1.0, "float32"), np.full(2, 0.5, "float32")])
        save_keras(model, "model.keras")
        model.layers[0].set_weights([np.full((3, 2), 7.0, "float32"), np.full(2, 7.0, "float32")])

        real = zipfile.ZipFile.writestr

        def dying_writestr(self, name, data, *args, **kwargs):
            real(self, name, data[: len(data) // 2], *args, **kwargs)  # half the weights on disk
            self.fp.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        zipfile.ZipFile.writestr = dying_writestr
        print(os.getpid(), flush=True)
        save_keras(model, "model.keras")
    """,
        tmp_path,
    )
    pid = int(proc.stdout.split()[-1])
    import keras

    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["model.keras", f"model.tmp-{pid}.keras"], left
    assert is_temporary(tmp_path / left[1]) and not is_temporary(tmp_path / left[0])
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    kernel, bias = loaded.get_layer("dense").get_weights()
    np.testing.assert_array_equal(kernel, np.full((3, 2), 1.0))
    np.testing.assert_array_equal(bias, np.full(2, 0.5))
    with pytest.raises(Exception):  # noqa: B017  the interrupted save is a broken zip (whatever Keras raises for it)
        keras.saving.load_model(tmp_path / left[1], compile=False)


def test_history_is_cleaned_on_resume_and_written_whole_at_the_end(tmp_path):
    from textlstm.training import HISTORY, PARTIAL_HISTORY, _clean_history, finish_history

    (tmp_path / HISTORY).write_text("epoch,loss\r\n0,9.0\r\n")  # the previous run's, complete
    partial = tmp_path / PARTIAL_HISTORY
    # Epoch 1 ran twice (killed after its row, before its backup); the last row was cut off by a kill.
    partial.write_bytes(b"epoch,loss,val_loss\r\n0,0.5,0.6\r\n1,0.4,0.55\r\n1,0.41,0.54\r\n2,0.3")
    _clean_history(partial)
    assert partial.read_bytes() == b"epoch,loss,val_loss\r\n0,0.5,0.6\r\n1,0.41,0.54\r\n"
    with open(partial, "ab") as f:  # the resumed run appends as CSVLogger does
        f.write(b"2,0.31,0.5\r\n")
    assert (tmp_path / HISTORY).read_bytes() == b"epoch,loss\r\n0,9.0\r\n"  # untouched until fit has finished
    assert finish_history(tmp_path) == tmp_path / HISTORY
    assert (tmp_path / HISTORY).read_bytes() == b"epoch,loss,val_loss\r\n0,0.5,0.6\r\n1,0.41,0.54\r\n2,0.31,0.5\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [HISTORY]
    partial.write_bytes(b"epo")  # a kill while writing the header: start again
    _clean_history(partial)
    assert not partial.exists()
