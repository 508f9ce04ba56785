"""Translator end to end: `textlstm train` on a tiny date demo (subprocess),
`textlstm translate` with arguments and stdin, the artifact's round trip
through `textlstm.load`, and the Python API's input checks."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import textlstm
from textlstm.cli import main
from textlstm.config import load_pipeline
from textlstm.data import load_splits
from textlstm.errors import ConfigError, DataError
from textlstm.seq2seq.translator import Translator

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "data.demo_size=1000",
    "model.units=[48]",
    "model.embedding_dim=16",
    "train.epochs=3",
    "train.batch_size=32",
    "train.learning_rate=0.01",
    "train.verbose=0",
    "train.tensorboard=false",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("translate_demo")
    cmd = [
        sys.executable,
        "-m",
        "textlstm.cli",
        "train",
        str(ROOT / "pipelines" / "translate_demo.yaml"),
        "--output",
        str(out),
        "--saved-model",
    ] + [a for s in TINY for a in ("--set", s)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "metrics.json").read_text())


def test_cli_train_writes_the_artifacts_and_metrics(run):
    out, metrics = run
    for name in ("model.keras", "history.csv", "learning_curves.png", "translations.tsv"):
        assert (out / name).exists(), name
    test = metrics["test"]
    assert test["count"] == 100 and 0 <= test["exact_match"] <= 1 and 0 <= test["bleu"] <= 100
    assert test["beam_width"] == 4 and {"greedy", "beam"} <= set(test)
    assert test["bleu"] == test["beam"]["bleu"] and test["chrf"] == test["beam"]["chrf"]
    # Three short epochs already give date-shaped output: far above an untrained model.
    assert test["greedy"]["chrf"] > 25, test  # untrained: about 10
    assert metrics["data"]["train_examples"] == 800 and metrics["data"]["target_vocabulary_size"] == 15
    assert all("cuDNN" in row for row in metrics["cudnn"]) and len(metrics["cudnn"]) == 3
    assert len(metrics["history"]) == 1  # the runner contract: one history per trained network
    assert len(metrics["history"][0]["loss"]) == 3 and "val_token_accuracy" in metrics["history"][0]
    assert metrics["train_seconds"] > 0


def test_load_round_trip_matches_the_trained_translator(run):
    out, metrics = run
    translator = textlstm.load(out / "model.keras")
    assert isinstance(translator, Translator) and translator.target_vocabulary[2:4] == ["[start]", "[end]"]
    examples = metrics["test"]["examples"]  # decoded by the translator before it was saved
    sources = [e["source"] for e in examples]
    assert translator.translate(sources) == [e["beam"] for e in examples]
    assert translator.translate(sources, beam_width=1) == [e["greedy"] for e in examples]
    assert translator.translate("the 3rd of March 2021") == translator.translate(["the 3rd of March 2021"])
    # Beam search never scores below greedy under the model's own log-probability.
    ids = translator.source_ids(sources + ["3/3/21", "Wed 3 Mar 21", "", "2021 March 3"])
    greedy = translator.inference.greedy(ids)
    beam = translator.inference.beam_search(ids, beam_width=4)
    assert (beam.scores >= greedy.scores - 1e-4).all()
    attention = translator.attention("3/3/21")
    assert attention["source"] == list("3/3/21")
    np.testing.assert_allclose(attention["weights"].sum(1), 1.0, atol=1e-4)


def test_saved_model_translates_strings_as_the_translator_does(run):
    """The SavedModel export: string in, string out, in the graph; `serve` is
    beam search (with the greedy fallback) and `greedy` greedy decoding, each
    giving what `translate` gives."""
    import tensorflow as tf

    out, metrics = run
    translator = textlstm.load(out / "model.keras")
    served = tf.saved_model.load(str(out / "saved_model"))  # written by `textlstm train --saved-model`
    assert set(served.signatures) == {"serve", "greedy", "serving_default"}
    for name in ("serve", "greedy"):
        spec = served.signatures[name].structured_input_signature[1]["text"]
        assert spec.dtype == tf.string and spec.shape.as_list() == [None]
    texts = [e["source"] for e in metrics["test"]["examples"]] + [
        "3/3/21",
        "Wed 3 Mar 21",
        "",
        "2021 March 3",
        "the 1st of january 1999",
    ]
    decode = lambda fn: [t.decode() for t in fn(tf.constant(texts))["translation"].numpy()]  # noqa: E731
    assert decode(served.serve) == translator.translate(texts)
    assert decode(served.greedy) == translator.translate(texts, beam_width=1)
    scores = served.serve(tf.constant(texts))["score"].numpy()
    greedy = translator.inference.greedy(translator.source_ids(texts))
    assert (scores >= greedy.scores - 1e-4).all()


def test_graph_detokenize_matches_python():
    import tensorflow as tf

    from textlstm.seq2seq.data import detokenize
    from textlstm.seq2seq.export import detokenize as graph_detokenize
    from textlstm.seq2seq.export import ids_to_strings

    texts = ["Ein Mann ( links ) sitzt , lacht .", "Was ? Nein ! a : b ; c", "( ( x ) )", "", "no change"]
    assert [t.decode() for t in graph_detokenize(tf.constant(texts)).numpy()] == [detokenize(t) for t in texts]
    vocabulary = ["", "[UNK]", "[start]", "[end]", "ein", "mann", ",", "("]
    ids = [[2, 4, 5, 6, 3, 4], [7, 4, 0, 0, 0, 0], [3, 4, 4, 0, 0, 0]]
    words = [t.decode() for t in ids_to_strings(tf.constant(ids), vocabulary, " ").numpy()]
    chars = [t.decode() for t in ids_to_strings(tf.constant(ids), vocabulary, "").numpy()]
    assert words == ["ein mann,", "(ein", ""] and chars == ["einmann,", "(ein", ""]


def test_cli_translate_arguments_and_stdin(run, capsys, monkeypatch):
    out, metrics = run
    model = str(out / "model.keras")
    examples = metrics["test"]["examples"][:3]
    assert main(["translate", model, *[e["source"] for e in examples]]) == 0
    assert capsys.readouterr().out.splitlines() == [e["beam"] for e in examples]

    lines = [examples[0]["source"], "", examples[1]["source"]]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["translate", model, "--greedy", "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["source"] for p in printed] == lines  # one line out per line in, blank stays blank
    assert [p["translation"] for p in printed] == [examples[0]["greedy"], "", examples[1]["greedy"]]

    with pytest.raises(SystemExit, match="must be >= 1"):
        main(["translate", "--beam-width", "0", model, "x"])
    with pytest.raises(SystemExit):
        main(["translate", model, "x", "--beam-width", "2", "--greedy"])  # mutually exclusive


def test_cli_evaluate_on_a_tsv_file(run, tmp_path, capsys):
    out, metrics = run
    rows = [(e["source"], e["reference"]) for e in metrics["test"]["examples"]]
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    assert (
        main(
            [
                "evaluate",
                str(out / "model.keras"),
                str(data),
                "--set",
                "data.source_field=0",
                "--set",
                "data.target_field=1",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == len(rows) and result["skipped"]["total"] == 0
    assert result["exact_match"] == pytest.approx(
        np.mean([e["beam"] == e["reference"] for e in metrics["test"]["examples"]])
    )


def test_a_label_folder_is_refused_for_translation(run, tmp_path, capsys):
    out, _ = run
    for label in ("de", "en"):
        (tmp_path / "tree" / label).mkdir(parents=True)
        (tmp_path / "tree" / label / "a.txt").write_text("some text", encoding="utf-8")
    # `textlstm evaluate` scored the folder names as reference translations
    assert main(["evaluate", str(out / "model.keras"), str(tmp_path / "tree")]) == 2
    assert "a folder-per-label tree" in capsys.readouterr().err
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"task: translation\ndata: {{train: {tmp_path / 'tree'}}}\n")
    with pytest.raises(DataError, match="task: translation does not read"):
        load_splits(load_pipeline(pipeline).data, "translation", 0)
    with pytest.raises(ConfigError, match="task: translation reads"):
        load_pipeline(pipeline, ["data.format=folder"])


def test_api_checks_its_inputs():
    translator = Translator()
    with pytest.raises(RuntimeError, match="not trained"):
        translator.translate(["x"])
    with pytest.raises(ValueError, match="one target per source, got 2 sources and 1 targets"):
        translator.fit(["a b", "c"], ["x"])
    with pytest.raises(ValueError, match="task: translation"):
        Translator(textlstm.load_pipeline(None))
