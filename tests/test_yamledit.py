"""bot.adapters.yamledit: round-trip edits keep comments and order; invalid edits change nothing."""
from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from bot.adapters.yamledit import EditError, edit, find_file
from bot.core.watchlist import Watchlist

SRC = """\
# Venezuela watchlist — keep this comment
name: venezuela
title: {en: Venezuela, ja: ベネズエラ}
aliases:
  ja:
    - ベネズエラ   # katakana
  en:
    - Venezuela
    - text: Maduro
      match: exact
  es:
    - Venezuela
context: [Caracas]
excludes: Venezuela Street   # a single string
"""


@pytest.fixture
def wdir(tmp_path):
    (tmp_path / "venezuela.yaml").write_text(SRC, encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    return tmp_path


def load(p):
    return YAML(typ="safe").load(p.read_text(encoding="utf-8"))


def test_add_alias_preserves_comments_and_order(wdir):
    res = edit(wdir, "venezuela", kind="alias", action="add", text="Padrino López", lang="es")
    text = (wdir / "venezuela.yaml").read_text(encoding="utf-8")
    assert "# Venezuela watchlist — keep this comment" in text and "# katakana" in text
    assert "# a single string" in text
    data = load(wdir / "venezuela.yaml")
    assert data["aliases"]["es"] == ["Venezuela", "Padrino López"]
    assert list(data) == ["name", "title", "aliases", "context", "excludes"]
    assert list(data["aliases"]) == ["ja", "en", "es"]
    Watchlist.model_validate(data)
    assert res.action == "added" and res.lang == "es"


def test_add_alias_guesses_language(wdir):
    edit(wdir, "venezuela", kind="alias", action="add", text="マドゥロ")
    assert "マドゥロ" in load(wdir / "venezuela.yaml")["aliases"]["ja"]


def test_remove_alias_dict_form_and_exclude(wdir):
    edit(wdir, "venezuela", kind="alias", action="remove", text="maduro")
    edit(wdir, "venezuela", kind="exclude", action="add", text="Venezuela Avenue")
    edit(wdir, "venezuela", kind="exclude", action="remove", text="Venezuela Street")
    data = load(wdir / "venezuela.yaml")
    assert data["aliases"]["en"] == ["Venezuela"]
    assert data["excludes"] == ["Venezuela Avenue"]
    assert "keep this comment" in (wdir / "venezuela.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("kw, msg", [
    (dict(kind="alias", action="add", text="Maduro"), "already"),
    (dict(kind="alias", action="remove", text="Chávez"), "not in"),
    (dict(kind="alias", action="add", text="x" * 201), "200"),
    (dict(kind="alias", action="add", text="Bolívar", lang="EN"), "invalid"),
    (dict(kind="exclude", action="remove", text="nope"), "not in"),
])
def test_refused_edits_leave_file_untouched(wdir, kw, msg):
    before = (wdir / "venezuela.yaml").read_bytes()
    with pytest.raises(EditError, match=msg):
        edit(wdir, "venezuela", **kw)
    assert (wdir / "venezuela.yaml").read_bytes() == before
    assert not [p for p in wdir.iterdir() if p.name.startswith(".")]   # no temp file left


def test_removing_last_alias_is_invalid(tmp_path):
    (tmp_path / "x.yaml").write_text("name: x\naliases:\n  en: [Only]\n", encoding="utf-8")
    with pytest.raises(EditError, match="at least one alias"):
        edit(tmp_path, "x", kind="alias", action="remove", text="Only")
    assert "Only" in (tmp_path / "x.yaml").read_text(encoding="utf-8")


def test_find_file_by_name_field(tmp_path):
    (tmp_path / "mx.yaml").write_text("name: sheinbaum\naliases: {es: [Sheinbaum]}\n",
                                      encoding="utf-8")
    assert find_file(tmp_path, "sheinbaum").name == "mx.yaml"
    with pytest.raises(EditError, match="no watchlist"):
        find_file(tmp_path, "cuba")


# --- edit_alias_rule: the feedback suggestions' edits -----------------------------------------
ANCHORED = """\
# shared veto words — keep
name: cuba
aliases:
  en:
    - {text: Cuba, unless: &games [pitcher, home run]}   # the island
    - {text: Cuban, unless: *games}
    - Havana
  es:
    - Havana
context: [island]
"""


def test_unless_word_added_to_a_plain_alias_in_every_language(tmp_path):
    from bot.adapters.yamledit import edit_alias_rule
    p = tmp_path / "cuba.yaml"
    p.write_text(ANCHORED, encoding="utf-8")
    res = edit_alias_rule(tmp_path, "cuba", "havana", unless="Illinois")
    assert (res.kind, res.text) == ("unless", "Illinois")
    data = load(p)
    assert data["aliases"]["en"][2] == {"text": "Havana", "unless": ["Illinois"]}
    assert data["aliases"]["es"][0] == {"text": "Havana", "unless": ["Illinois"]}
    text = p.read_text(encoding="utf-8")
    assert "# shared veto words — keep" in text and "# the island" in text
    Watchlist.model_validate(data)


def test_unless_on_an_anchored_list_leaves_the_other_alias_alone(tmp_path):
    from bot.adapters.yamledit import edit_alias_rule
    p = tmp_path / "cuba.yaml"
    p.write_text(ANCHORED, encoding="utf-8")
    edit_alias_rule(tmp_path, "cuba", "Cuba", unless="baseball")
    data = load(p)
    assert data["aliases"]["en"][0]["unless"] == ["pitcher", "home run", "baseball"]
    assert data["aliases"]["en"][1]["unless"] == ["pitcher", "home run"]


def test_needs_context_and_refusals_leave_the_file_unchanged(tmp_path):
    from bot.adapters.yamledit import edit_alias_rule
    p = tmp_path / "cuba.yaml"
    p.write_text(ANCHORED, encoding="utf-8")
    edit_alias_rule(tmp_path, "cuba", "Cuban", needs_context=True)
    assert load(p)["aliases"]["en"][1]["needs_context"] is True
    before = p.read_text(encoding="utf-8")
    for kw in ({"alias": "Kuba", "unless": "x"}, {"alias": "Cuba", "unless": "pitcher"},
               {"alias": "Cuban", "needs_context": True}, {"alias": "Cuba"},
               {"alias": "Cuba", "unless": "x" * 201}):
        alias = kw.pop("alias")
        with pytest.raises(EditError):
            edit_alias_rule(tmp_path, "cuba", alias, **kw)
    assert p.read_text(encoding="utf-8") == before
