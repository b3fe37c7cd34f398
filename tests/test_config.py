"""Watchlist/feed validation: errors name file, line, column and field; nothing half-loads."""
from pathlib import Path

import pytest

from bot.adapters.config import ConfigError, load_config

GOOD = """name: cuba
aliases:
  en: [Cuba, Havana]
"""


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(text, encoding="utf-8")
    return p


def problems(d):
    with pytest.raises(ConfigError) as ei:
        load_config(d)
    return ei.value.problems


def test_valid_config(tmp_path):
    write(tmp_path, "cuba.yaml", GOOD)
    write(tmp_path, "feeds.yaml", "feeds:\n  - {name: a, url: 'https://a.example/rss', interval: 90s}\n")
    cfg = load_config(tmp_path)
    assert list(cfg.watchlists) == ["cuba"]
    assert cfg.feeds.feeds[0].interval == 90


def test_unknown_key_names_line_column_and_field(tmp_path):
    write(tmp_path, "cuba.yaml", GOOD + "  ja:\n    - {text: キューバ, exact: true}\n")
    (p,) = problems(tmp_path)
    assert p.file.endswith("cuba.yaml") and p.line == 5
    assert p.field == "aliases.ja[0].exact" and "unknown key" in p.message
    assert str(p).startswith(f"{tmp_path}/cuba.yaml:5:")


def test_typo_in_top_level_key(tmp_path):
    write(tmp_path, "cuba.yaml", GOOD + "exclude: [Cuba Gooding]\n")
    (p,) = problems(tmp_path)
    assert (p.line, p.field) == (4, "exclude")


def test_invalid_yaml_reports_position(tmp_path):
    write(tmp_path, "cuba.yaml", "name: cuba\naliases:\n  en: [Cuba, Havana\n")
    (p,) = problems(tmp_path)
    assert "invalid YAML" in p.message and p.line is not None


def test_bad_values(tmp_path):
    write(tmp_path, "cuba.yaml", "name: Cuba Watch\naliases: {en: []}\n")
    write(tmp_path, "feeds.yaml", "feeds:\n  - {name: a, url: x, interval: 5x}\n"
                                  "  - {name: a, url: y}\n")
    probs = problems(tmp_path)
    fields = {(Path(p.file).name, p.field) for p in probs}
    assert ("cuba.yaml", "name") in fields and ("cuba.yaml", "aliases") in fields
    assert ("feeds.yaml", "feeds.0.interval") in {(Path(p.file).name, p.field.replace("[0]", ".0"))
                                                   for p in probs} or \
        any("interval" in p.field for p in probs)


def test_duplicate_names_and_empty_folder(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    (p,) = problems(tmp_path)
    assert "already used" in p.message
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no watchlist" in problems(empty)[0].message


def test_shipped_config_is_valid_and_schema_published():
    import json
    cfg = load_config("watchlists")
    assert len(cfg.feeds.feeds) >= 9
    assert {f.lang for f in cfg.feeds.feeds} >= {"ja", "en", "es"}
    schema = json.loads(Path("bot/data/watchlist.schema.json").read_text())
    assert schema["additionalProperties"] is False and "aliases" in schema["properties"]


def test_published_schemas_are_current_and_accept_the_shipped_files():
    import json

    import jsonschema
    from ruamel.yaml import YAML

    from bot import schema as S
    for name, fn in (("watchlist.schema.json", S.watchlist_schema), ("feeds.schema.json", S.feeds_schema)):
        assert Path("bot/data", name).read_text(encoding="utf-8") == S.render(fn()), \
            f"{name} is stale: run `python -m bot.schema`"
    wl = json.loads(Path("bot/data/watchlist.schema.json").read_text())
    fd = json.loads(Path("bot/data/feeds.schema.json").read_text())
    y = YAML(typ="safe")
    for p in Path("watchlists").glob("*.yaml"):
        data = y.load(p.read_text(encoding="utf-8"))
        jsonschema.validate(data, fd if p.name == "feeds.yaml" else wl)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "aliases": {"en": ["a"]}, "exclude": []}, wl)


def test_relative_feed_paths_resolve_against_the_feed_file(tmp_path):
    write(tmp_path, "cuba.yaml", GOOD)
    sub = tmp_path / "lists"
    sub.mkdir()
    write(sub, "feeds.yaml", "feeds:\n  - {name: a, url: local/a.xml}\n  - {name: b, url: 'https://x.example/rss'}\n")
    cfg = load_config(tmp_path, feeds_file=sub / "feeds.yaml")
    assert cfg.feeds.feeds[0].url == str(sub / "local" / "a.xml")
    assert cfg.feeds.feeds[1].url == "https://x.example/rss"


def test_shipped_offline_demo_feeds_are_valid():
    cfg = load_config("watchlists", feeds_file="examples/offline/feeds.yaml")
    assert len(cfg.feeds.feeds) == 3
    assert all(Path(f.url).is_file() for f in cfg.feeds.feeds)
