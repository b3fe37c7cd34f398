"""Hostile items produce bounded messages: /why of a keyword-stuffed item, digests of a flood."""
from __future__ import annotations

from pathlib import Path

from bot.adapters.config import load_config
from bot.core.matcher import Matcher
from bot.core.model import Entry, StoredItem
from bot.core.render import visible_len
from bot.telegram.handlers import WHY_LINES, why_text

ROOT = Path(__file__).resolve().parents[1]


def stuffed_item() -> StoredItem:
    cfg = load_config(ROOT / "watchlists")
    aliases = [a.text for w in cfg.watchlists.values() for _, a in w.all_aliases()]
    title = " ".join(aliases * 3)[:1000]
    summary = " / ".join(aliases * 20)[:5000]
    entry = Entry(id="x", feed="spam", title=title, link="", summary=summary)
    hits = Matcher(cfg.watchlists).match(entry)
    assert len(hits) > 3 * WHY_LINES          # the premise: far more hits than lines shown
    return StoredItem(entry, hits), cfg


def test_why_of_a_keyword_stuffed_item_is_one_short_message():
    item, cfg = stuffed_item()
    for lang in ("en", "ja"):
        text = why_text(lang, 7, item, cfg.watchlists)
        assert visible_len(text) < 4000, visible_len(text)
        assert sum(line.startswith("•") for line in text.splitlines()) <= WHY_LINES
        assert ("more matches" in text) or ("件の一致" in text)


def test_why_keeps_the_original_text_of_a_homoglyph_title():
    cfg = load_config(ROOT / "watchlists")
    title = "Mаduro meets Sheinbаum in Ven\u200dezuela"     # Cyrillic а, zero-width joiner
    entry = Entry(id="h", feed="f", title=title, link="")
    hits = Matcher(cfg.watchlists).match(entry)
    assert {h.watchlist for h in hits} >= {"venezuela", "sheinbaum"}
    text = why_text("en", 1, StoredItem(entry, hits), cfg.watchlists)
    assert title in text                                      # as published, not folded
