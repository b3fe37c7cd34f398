"""End to end, as the README tells it: `sokuho run` with a local feed and the fake Bot API; an
instant alert carries 👎 Off-topic, 🔇 Mute story and ❓ Why; pressing them records feedback that
`/filters` and `sokuho status` show."""
from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys

from fakebotapi import FakeBotAPI
from test_telegram_e2e import ROOT, WL, rss, start_service, wait_exit


async def test_alert_buttons_end_to_end(tmp_path, feed_server):
    api = await FakeBotAPI().start()
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "venezuela.yaml").write_text(WL, encoding="utf-8")
    feed_server.route("/vz.xml", body=rss(2), delay=3.0)     # answers after the subscription
    (tmp_path / "wl" / "feeds.yaml").write_text(
        f"feeds:\n  - name: Local News\n    url: {feed_server.url('/vz.xml')}\n"
        "    interval: 30s\n", encoding="utf-8")
    api.message(301, "/subscribe venezuela")
    api.message(301, "/mode venezuela instant")
    logf = open(tmp_path / "service.log", "wb")
    proc = start_service(tmp_path, api, logf)
    try:
        await api.wait_for(lambda: len([c for c in api.sent(301) if "Maduro story" in c.text])
                           == 2, timeout=30)
        alert = next(c for c in api.sent(301) if "Maduro story" in c.text)
        row = alert.params["reply_markup"]["inline_keyboard"][0]
        assert [b["text"] for b in row] == ["👎 Off-topic", "🔇 Mute story", "❓ Why"]
        no = re.search(r"#(\d+)", alert.text).group(1)
        assert [b["callback_data"] for b in row] == [f"off:{no}", f"mute:{no}", f"why:{no}"]

        def answers():
            return [c.params.get("text", "") for c in api.calls_of("answerCallbackQuery")]
        for data, want in ((f"off:{no}", f"Marked #{no} off-topic"),
                           (f"mute:{no}", f"Story of #{no} muted here")):
            api.callback(301, data)
            await api.wait_for(lambda want=want: any(a.startswith(want) for a in answers()),
                               timeout=20)
        n = len(api.sent(301))
        api.message(301, "/filters")
        await api.wait_for(lambda: len(api.sent(301)) > n, timeout=20)
        assert "muted story until" in api.sent(301)[-1].text
    finally:
        proc.send_signal(signal.SIGTERM)
        if not await wait_exit(proc, 20):
            proc.kill()
        logf.close()
        await api.close()
    st = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "bot.cli", "status",
                                                  "--state", str(tmp_path / "state"),
                                                  "--watchlists", str(tmp_path / "wl")],
                                 cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "Feedback: 1 off-topic mark(s), 1 story mute(s)" in st.stdout, st.stderr
