import json

from typer.testing import CliRunner

from affectkit.cli import app
from affectkit.data.manifest import read_manifest
from conftest import REPO

runner = CliRunner()
MINI = str(REPO / "examples" / "meld-mini")


def test_data_list_json():
    r = runner.invoke(app, ["data", "list", "--json"])
    assert r.exit_code == 0, r.output
    names = {c["name"] for c in json.loads(r.stdout)}
    assert {"ravdess", "meld"} <= names


def test_data_info_json_on_bundled_example():
    r = runner.invoke(app, ["data", "info", "meld", "--root", MINI, "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["total"] == 13
    assert s["by_split"] == {"test": 3, "train": 8, "valid": 2}
    assert s["by_label"]["joy"] == 3
    assert s["n_speakers"] == 4
    assert s["issues"] == []


def test_data_export_roundtrip(tmp_path):
    for ext in ("jsonl", "parquet"):
        out = tmp_path / f"m.{ext}"
        r = runner.invoke(app, ["data", "export", "meld", "--root", MINI, "-o", str(out)])
        assert r.exit_code == 0, r.output
        utts = read_manifest(out)
        assert len(utts) == 13 and utts[0].corpus == "meld" and utts[0].text


def test_missing_root_names_layout(tmp_path):
    from affectkit.data import load_corpus
    from affectkit.errors import DataError
    import pytest

    with pytest.raises(DataError, match=r"_sent_emo\.csv"):
        load_corpus("meld", tmp_path / "nope")
    with pytest.raises(DataError, match=r"_sent_emo\.csv"):
        load_corpus("meld", tmp_path)


def test_bad_rows_reported_not_dropped(tmp_path):
    import shutil

    root = tmp_path / "meld"
    shutil.copytree(MINI, root)
    p = root / "train_sent_emo.csv"
    lines = p.read_text().splitlines()
    lines[1] = lines[1].replace("joy", "glee")
    p.write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["data", "info", "meld", "--root", str(root), "--json"])
    s = json.loads(r.stdout)
    assert s["total"] == 12 and len(s["issues"]) == 1
    assert "glee" in s["issues"][0]["reason"] and s["issues"][0]["field"] == "Emotion"
    r = runner.invoke(app, ["data", "info", "meld", "--root", str(root), "--strict"])
    assert r.exit_code != 0


def test_loader_options_pass_through(tmp_path):
    r = runner.invoke(app, ["data", "info", "meld", "--root", MINI, "--option", "bogus=1"])
    assert r.exit_code != 0
    assert "unknown loader option" in str(r.exception) or "unknown loader option" in r.output
    r = runner.invoke(app, ["data", "info", "meld", "--root", MINI, "--option", "novalue"])
    assert r.exit_code != 0
