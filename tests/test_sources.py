import json

import pytest

from conftest import write
from textlstm.data.sources import DataError, read_records


def test_tsv_by_index_without_header(tmp_path):
    p = write(tmp_path / "a.tsv", '1\tit\'s "quoted" fine\n0\ta dull film\n\n')
    recs = read_records(p, [1, 0])
    assert recs.rows == [('it\'s "quoted" fine', "1"), ("a dull film", "0")]
    assert recs.where == [f"{p}:1", f"{p}:2"]
    assert recs.skipped.total == 0


def test_tsv_by_name_uses_header(tmp_path):
    p = write(tmp_path / "a.tsv", "label\ttext\npos\tgood\n")
    assert read_records(p, ["text", "label"]).rows == [("good", "pos")]
    with pytest.raises(DataError, match=r"a.tsv:1: no column named 'txt'.*Did you mean 'text'"):
        read_records(p, ["txt", "label"])


def test_csv_quoted_tabs_and_newlines(tmp_path):
    p = write(tmp_path / "a.csv", 'text,label\n"a tab\there, and a\nnewline",pos\nplain,neg\n')
    recs = read_records(p, ["text", "label"])
    assert recs.rows == [("a tab\there, and a\nnewline", "pos"), ("plain", "neg")]
    assert recs.where[1].endswith(":4")  # physical line of the second record


def test_jsonl_fields_and_bad_json(tmp_path):
    p = write(tmp_path / "a.jsonl", json.dumps({"text": "good", "label": 1}) + "\n{not json\n")
    with pytest.raises(DataError, match=r"a.jsonl:2: invalid JSON"):
        read_records(p, ["text", "label"])
    recs = read_records(p, ["text", "label"], on_bad_row="skip")
    assert recs.rows == [("good", "1")]
    assert recs.skipped.total == 1 and "a.jsonl:2" in recs.skipped.examples[0]


def test_row_without_label_errors_or_is_counted(tmp_path):
    p = write(tmp_path / "a.tsv", "1\tgood\n\tno label here\n0\n1\tfine\n")
    with pytest.raises(DataError, match=r"a.tsv:2: empty 0"):
        read_records(p, [1, 0])
    recs = read_records(p, [1, 0], on_bad_row="skip")
    assert len(recs) == 2
    assert recs.skipped.total == 2
    assert set(recs.skipped.counts) == {"empty 0", "expected at least 2 columns, found 1"}


def test_missing_empty_and_undecodable_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_records(tmp_path / "none.tsv", [1, 0])
    with pytest.raises(DataError, match="file is empty"):
        read_records(write(tmp_path / "e.tsv", "\n\n"), [1, 0])
    bad = write(tmp_path / "b.tsv", b"1\tgood\n0\tcaf\xe9 bad\n1\tok\n")
    with pytest.raises(DataError, match=r"b.tsv:2: bytes .* not valid utf-8"):
        read_records(bad, [1, 0])
    recs = read_records(bad, [1, 0], on_bad_row="skip")
    assert [r[0] for r in recs.rows] == ["good", "ok"]
    assert recs.skipped.counts["undecodable utf-8 bytes"] == 1
    assert read_records(bad, [1, 0], encoding="cp1252").rows[1] == ("café bad", "0")


def test_folder_per_label_tree(tmp_path):
    for label, texts in {"pos": ["great", "fine"], "neg": ["bad"], "unsup": ["?"]}.items():
        (tmp_path / label).mkdir()
        for i, t in enumerate(texts):
            write(tmp_path / label / f"{i}.txt", t)
    recs = read_records(tmp_path, ["text", "label"], classes=["neg", "pos"])
    assert sorted(recs.rows) == [("bad", "neg"), ("fine", "pos"), ("great", "pos")]
    with pytest.raises(DataError, match="no sub-folder for class"):
        read_records(tmp_path, ["text", "label"], classes=["neg", "positive"])


def test_unknown_extension(tmp_path):
    with pytest.raises(DataError, match="set data.format"):
        read_records(write(tmp_path / "a.parquet", "x"), [0, 1])
