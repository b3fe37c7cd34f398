"""The feedback tables (telegram migration v2) on both engines: marks are idempotent, filters
hold and release, suggestions are applied once."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import bot.telegram.outbox  # noqa: F401 - registers the telegram migrations
from bot.adapters.store import Store
from bot.core.model import Entry, Hit, Processed
from bot.telegram.feedback_store import FeedbackStore
from bot.telegram.outbox import Outbox

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
HIT = Hit("cuba", "Cuba", "title", "Cuba", "exact")


def test_feedback_tables_on_both_engines(database):
    with Store.open(database) as store:
        ob, db = Outbox(store), FeedbackStore(store)
        store.save_processed([Processed(Entry(f"g{i}", "f", f"Cuba baseball {i}", f"https://x/{i}"),
                                        [HIT]) for i in range(3)], fetched_at=NOW)
        ob.ensure_chat(-1001, kind="supergroup", title="t", username=None, lang="en",
                       next_digest_at=NOW, now=NOW)
        assert db.mark(-1001, "g0", "offtopic", "cuba", [HIT], 5, NOW)
        assert not db.mark(-1001, "g0", "offtopic", "cuba", [HIT], 6, NOW)   # second press
        assert [m.aliases for m in db.marks(chat_id=-1001)] == [["Cuba"]]
        fid, created = db.save_word_filter(-1001, "cuba", "Cuba", ["baseball"], 3, NOW)
        assert created and db.save_word_filter(-1001, "cuba", "Cuba", ["baseball", "mlb"], 4,
                                               NOW) == (fid, False)
        ob.enqueue([(-1001, 0, "g1", "cuba", "digest", "held", fid),
                    (-1001, 0, "g2", "cuba", "digest", "waiting")], NOW)
        assert db.hold_waiting(-1001, fid, ["g2"]) == 1
        assert db.counts()["held"] == 2 and db.counts()["filters"] == 1
        assert db.remove_filter(-1002, fid, NOW) == (None, 0)             # another chat's
        f, n = db.remove_filter(-1001, fid, NOW)
        assert f.words == ("baseball", "mlb") and n == 2
        assert {r.state for r in ob.rows(-1001)} == {"waiting"}
        assert db.filters(-1001) == [] and not db.filters(-1001, active_only=False)[0].active
        sid = db.add_suggestion("cuba", "Cuba", "unless", "baseball", 3, NOW)
        assert db.applied(sid, 777, NOW) and not db.applied(sid, 777, NOW)
        mid = db.save_story(-1001, "cuba", "g0", ["basebal"], "Cuba baseball 0",
                            NOW + timedelta(days=3), NOW)
        assert [x.id for x in db.active_filters([-1001], NOW + timedelta(days=2))[-1001]] == [mid]
        assert db.active_filters([-1001], NOW + timedelta(days=4)) == {}
        db.set_members_edit(-1001, True)
        assert db.members_edit(-1001) and not db.members_edit(-1002)
        db.set_meta("feedback_report_at", "x")
        db.set_meta("feedback_report_at", "y")
        assert db.meta("feedback_report_at") == "y"
