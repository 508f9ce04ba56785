import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Small, fast settings for the demo corpus shared by the tests.
QUICK_DEMO = [
    "data.source=demo",
    "data.demo_size=2000",
    "vectorizer.max_length=40",
    "model.embedding_dim=32",
    "model.units=[32]",
    "train.epochs=8",
    "train.patience=2",
    "train.learning_rate=0.005",
    "train.verbose=0",
    "train.tensorboard=false",
]


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory):
    """One small classifier trained on the demo corpus, shared by tests."""
    from textlstm.classifier import TextClassifier

    out = tmp_path_factory.mktemp("demo_run")
    clf = TextClassifier.from_pipeline(os.path.join(REPO, "pipelines", "sentiment_demo.yaml"), QUICK_DEMO)
    clf.fit(output_dir=out)
    return clf, out


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path
