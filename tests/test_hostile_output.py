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


def test_a_feed_of_100000_entries_gives_a_bounded_digest(tmp_path):
    """One poll of 100,000 new entries: the newest SOKUHO_MAX_NEW_ITEMS are matched, the rest are
    stored as backlog (not lost, not new again), and the printed digest is capped."""
    import os
    import subprocess
    import sys
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    now = datetime.now(timezone.utc)
    items = "".join(        # the 1,000 newest dated, the rest undated (10 MB is the body limit)
        f"<item><guid>g{i}</guid><title>Cuba news {i}</title>"
        + (f"<pubDate>{format_datetime(now - timedelta(seconds=i))}</pubDate>" if i < 1000 else "")
        + "</item>" for i in range(100_000))
    feed = tmp_path / "flood.xml"
    feed.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
                    "</channel></rss>", encoding="utf-8")
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "cuba.yaml").write_text("name: cuba\naliases:\n  en: [Cuba]\n", encoding="utf-8")
    (wl / "feeds.yaml").write_text(f"feeds:\n  - {{name: flood, url: '{feed}'}}\n")
    env = dict(os.environ, SOKUHO_MAX_NEW_ITEMS="150", SOKUHO_DIGEST_MAX_ITEMS="25",
               SOKUHO_PARSE_TIMEOUT="600")
    r = subprocess.run([sys.executable, "-m", "bot.cli", "poll", "--once", "--watchlists", str(wl),
                        "--state", str(tmp_path / "st")], capture_output=True, text=True,
                       env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("Cuba news") == 25 and "… and 125 more" in r.stdout
    assert "Cuba news 0" in r.stdout and "Cuba news 99999" not in r.stdout     # the newest
    assert "100000 new items in one poll" in r.stderr and "99850 stored as backlog" in r.stderr
    assert "100000 new items, 150 matched" in r.stdout
    r2 = subprocess.run([sys.executable, "-m", "bot.cli", "poll", "--once", "--watchlists",
                         str(wl), "--state", str(tmp_path / "st")], capture_output=True, text=True,
                        env=env, timeout=600, cwd=ROOT)
    assert "0 new items" in r2.stdout and "Cuba news" not in r2.stdout.split("cycle:")[0]
