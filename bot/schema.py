"""JSON Schemas for the watchlist and feed-list formats, for editors (yaml-language-server).

Regenerate the published files with:  python -m bot.schema
"""
from __future__ import annotations

import json
from pathlib import Path

from bot.core.watchlist import FeedList, Watchlist

DATA = Path(__file__).parent / "data"


def _allow_bare_alias(schema: dict) -> dict:
    """In YAML an alias may be a bare string: `- Cuba` is `- {text: Cuba}`."""
    aliases = schema["properties"]["aliases"]
    aliases["additionalProperties"] = {
        "anyOf": [{"type": "string", "minLength": 1},
                  {"type": "array", "items": {"anyOf": [{"type": "string", "minLength": 1},
                                                        {"$ref": "#/$defs/Alias"}]}}]}
    for key in ("context", "excludes"):
        schema["properties"][key] = {"anyOf": [{"type": "string"},
                                               {"type": "array", "items": {"type": "string"}}]}
    return schema


def _durations(schema: dict) -> dict:
    dur = {"anyOf": [{"type": "number", "exclusiveMinimum": 0},
                     {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"}],
           "description": "seconds, or a duration such as 90s, 5m, 1h"}
    schema["$defs"]["Feed"]["properties"]["interval"] = {"anyOf": [dur, {"type": "null"}]}
    schema["$defs"]["FeedDefaults"]["properties"]["interval"] = dur
    return schema


def watchlist_schema() -> dict:
    s = _allow_bare_alias(Watchlist.model_json_schema())
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["title"] = "sokuho watchlist"
    return s


def feeds_schema() -> dict:
    s = _durations(FeedList.model_json_schema())
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["title"] = "sokuho feeds.yaml"
    return s


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    DATA.mkdir(exist_ok=True)
    (DATA / "watchlist.schema.json").write_text(render(watchlist_schema()), encoding="utf-8")
    (DATA / "feeds.schema.json").write_text(render(feeds_schema()), encoding="utf-8")
    print(f"wrote {DATA}/watchlist.schema.json and feeds.schema.json")
