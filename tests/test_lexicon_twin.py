"""bot/data/lexicon.json, the JSON copy of bot/data/lexicon.yaml every matching process reads:
current with the YAML, and ignored (the YAML parsed) when it was made from another text."""
from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

from bot.core import lexicon as lexmod


def test_the_shipped_json_copy_is_the_yaml_as_it_is_now():
    """Fails after an edit of lexicon.yaml without `make lexicon-json` (then the YAML is parsed
    at every start: slower, still right)."""
    twin = json.loads(resources.files("bot").joinpath(lexmod.TWIN).read_text(encoding="utf-8"))
    assert twin["data"] == lexmod.lexicon_data(twin=False), "run `make lexicon-json`"
    assert lexmod.twin_json() == resources.files("bot").joinpath(lexmod.TWIN).read_text(
        encoding="utf-8"), "run `make lexicon-json`"


def test_a_copy_made_from_another_yaml_is_ignored(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    src = Path(str(resources.files("bot").joinpath("data/lexicon.yaml")))
    shutil.copy(src, data / "lexicon.yaml")
    twin = json.loads(resources.files("bot").joinpath(lexmod.TWIN).read_text(encoding="utf-8"))
    twin["data"]["kana_heads"] = ["ニセモノ"]                  # the copy says something else...

    class Files:                                               # the package's files, from tmp
        @staticmethod
        def files(_pkg):
            return tmp_path
    monkeypatch.setattr(lexmod, "resources", Files)
    (data / "lexicon.json").write_text(json.dumps(twin), encoding="utf-8")
    assert lexmod.lexicon_data()["kana_heads"] == ["ニセモノ"]  # ... and is read when current,
    with open(data / "lexicon.yaml", "a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")                              # but not once the YAML changed
    assert lexmod.lexicon_data() == lexmod.lexicon_data(twin=False)
    assert lexmod.lexicon_data()["kana_heads"] != ["ニセモノ"]
    (data / "lexicon.json").write_text("{not json", encoding="utf-8")     # unreadable: the YAML
    assert lexmod.lexicon_data() == lexmod.lexicon_data(twin=False)
    (data / "lexicon.json").unlink()                                      # none: the YAML
    assert lexmod.lexicon_data()["kana_heads"] == lexmod.lexicon_data(twin=False)["kana_heads"]
