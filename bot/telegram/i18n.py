"""Chat UI strings in English and Japanese. Messages are HTML: placeholders are escaped by t()."""
from __future__ import annotations

import html

LANGS = ("en", "ja")

COMMANDS = {  # name -> (en, ja) descriptions for setMyCommands
    "start": ("What this bot does; subscribe with a tap", "このボットについて・ワンタップ購読"),
    "watchlists": ("List watchlists and your subscriptions", "ウォッチリストと購読状況"),
    "subscribe": ("Subscribe: /subscribe NAME", "購読: /subscribe 名前"),
    "unsubscribe": ("Unsubscribe: /unsubscribe NAME", "購読解除: /unsubscribe 名前"),
    "mode": ("Delivery: /mode NAME digest|instant", "配信方法: /mode 名前 digest|instant"),
    "schedule": ("Digest times: /schedule 08:00,20:00", "ダイジェスト時刻: /schedule 08:00,20:00"),
    "timezone": ("Time zone: /timezone Asia/Tokyo", "タイムゾーン: /timezone Asia/Tokyo"),
    "quiet": ("Quiet hours: /quiet 23:00-07:00 | off", "おやすみ時間: /quiet 23:00-07:00 | off"),
    "mute": ("Pause alerts: /mute 2h | off", "一時停止: /mute 2h | off"),
    "digest": ("Send everything pending now", "未配信分を今すぐ送る"),
    "why": ("Why did item N match: /why N", "一致理由: /why 番号"),
    "lang": ("Language: /lang ja|en", "言語: /lang ja|en"),
    "help": ("Help", "ヘルプ"),
}

_M: dict[str, tuple[str, str]] = {
    "refused": (
        "Sorry, this is a private deployment of sokuho and this chat is not on its list. "
        "Please ask the operator if you need access.",
        "申し訳ありません。このボットは限定公開で、このチャットは利用対象に含まれていません。"
        "利用をご希望の場合は運営者にお問い合わせください。"),
    "start": (
        "<b>sokuho 速報</b> watches news feeds for the topics below and sends you "
        "digests ({schedule}, {tz}) or instant alerts.\nTap to subscribe or unsubscribe:",
        "<b>sokuho 速報</b> はニュースフィードを監視し、下記トピックの記事をダイジェスト"
        "（{schedule}、{tz}）または速報でお届けします。\nタップで購読／解除:"),
    "help": (
        "/watchlists — lists and your subscriptions\n/subscribe NAME · /unsubscribe NAME\n"
        "/mode NAME digest|instant (or /mode digest|instant for all)\n"
        "/schedule 08:00,20:00 · /timezone Asia/Tokyo\n/quiet 23:00-07:00 | off · /mute 2h | off\n"
        "/digest — send everything pending now\n/why N — why item N matched\n/lang ja|en\n"
        "Admins: /status · /alias add|remove LIST \"text\" · /exclude add|remove LIST \"text\" · "
        "/channel add @name",
        "/watchlists — ウォッチリストと購読状況\n/subscribe 名前 · /unsubscribe 名前\n"
        "/mode 名前 digest|instant（/mode digest|instant で全て）\n"
        "/schedule 08:00,20:00 · /timezone Asia/Tokyo\n/quiet 23:00-07:00 | off · /mute 2h | off\n"
        "/digest — 未配信分を今すぐ送信\n/why 番号 — 一致した理由\n/lang ja|en\n"
        "管理者: /status · /alias add|remove リスト \"語\" · /exclude add|remove リスト \"語\" · "
        "/channel add @name"),
    "watchlists": ("<b>Watchlists</b> (✅ = subscribed):", "<b>ウォッチリスト</b>（✅ = 購読中）:"),
    "no_watchlists": ("No watchlists are configured yet.", "ウォッチリストが設定されていません。"),
    "subscribed": ("Subscribed to <b>{name}</b> ({mode}).", "<b>{name}</b> を購読しました（{mode}）。"),
    "backfill": ("{n} recent item(s) will come with your next digest (/digest sends them now).",
                 "最近の {n} 件を次のダイジェストでお届けします（/digest で今すぐ）。"),
    "already": ("Already subscribed to <b>{name}</b>.", "<b>{name}</b> は購読済みです。"),
    "unsubscribed": ("Unsubscribed from <b>{name}</b>.", "<b>{name}</b> の購読を解除しました。"),
    "not_subscribed": ("Not subscribed to <b>{name}</b>.", "<b>{name}</b> は購読していません。"),
    "unknown": ("Unknown watchlist {name!r}. Available: {names}",
                "ウォッチリスト {name!r} はありません。利用可能: {names}"),
    "usage": ("Usage: {usage}", "使い方: {usage}"),
    "mode_set": ("<b>{name}</b>: {mode}.", "<b>{name}</b>: {mode} に設定しました。"),
    "mode_all": ("All {n} subscription(s): {mode}.", "全 {n} 件の購読を {mode} にしました。"),
    "schedule_set": ("Digests at {times} ({tz}). Next: {next}.",
                     "ダイジェスト: {times}（{tz}）。次回: {next}。"),
    "tz_set": ("Time zone: {tz}. Next digest: {next}.", "タイムゾーン: {tz}。次回ダイジェスト: {next}。"),
    "bad_tz": ("{tz!r} is not a time zone (e.g. Asia/Tokyo, Europe/Madrid, America/Caracas).",
               "{tz!r} はタイムゾーンではありません（例: Asia/Tokyo, America/Caracas）。"),
    "bad_value": ("Could not understand that: {error}", "入力を解釈できません: {error}"),
    "quiet_set": ("Quiet hours {range} ({tz}): instant alerts are held for the next digest.",
                  "おやすみ時間 {range}（{tz}）: 速報は次のダイジェストにまとめます。"),
    "quiet_off": ("Quiet hours off.", "おやすみ時間を解除しました。"),
    "muted": ("Muted until {until}: alerts are held for the next digest after that.",
              "{until} までミュート: 速報はその後のダイジェストにまとめます。"),
    "unmuted": ("Mute off.", "ミュートを解除しました。"),
    "nothing_new": ("Nothing new since your last digest.", "前回のダイジェスト以降、新着はありません。"),
    "digest_coming": ("Sending {n} item(s)…", "{n} 件を送信します…"),
    "why_none": ("No item #{n} in this chat.", "このチャットに #{n} の記事はありません。"),
    "why_head": ("<b>#{n}</b> {title}\nmatched:", "<b>#{n}</b> {title}\n一致:"),
    "why_line": ("• {watchlist}: alias “{alias}” in the {field} (“{text}”, {kind})",
                 "• {watchlist}: 別名「{alias}」が{field}に一致（「{text}」, {kind}）"),
    "why_for": ("    + {why}", "    + {why}"),
    "why_against": ("    − {why}", "    − {why}"),
    "why_ignored": ("  not counted: “{alias}” in the {field} (“{text}”): {why}",
                    "  不採用: 「{alias}」（{field}「{text}」）: {why}"),
    "why_gone": ("Item #{n} is no longer in the store.", "#{n} の記事は保存期間を過ぎました。"),
    "admins_only": ("This command is for admins.", "このコマンドは管理者専用です。"),
    "lang_set": ("Language: English.", "言語を日本語にしました。"),
    "edit_ok": ("{what} {action} in <b>{name}</b> ({file}): “{text}”. The watcher reloads it.",
                "<b>{name}</b>（{file}）の{what}を{action}: 「{text}」。自動で再読み込みされます。"),
    "edit_err": ("Not changed: {error}", "変更していません: {error}"),
    "channel_added": ("Channel {title} registered. Manage it from here, e.g. "
                      "<code>/subscribe NAME {ref}</code>, <code>/mode NAME instant {ref}</code>.",
                      "チャンネル {title} を登録しました。ここから管理できます。例: "
                      "<code>/subscribe 名前 {ref}</code>、<code>/mode 名前 instant {ref}</code>"),
    "channel_removed": ("Channel {ref} removed.", "チャンネル {ref} を削除しました。"),
    "channel_bad": ("Cannot use {ref}: {error}", "{ref} は使えません: {error}"),
    "channels": ("Registered channels: {list}", "登録済みチャンネル: {list}"),
    "status_head": ("<b>Status</b>", "<b>状況</b>"),
}

FIELDS = {"title": ("title", "タイトル"), "summary": ("summary", "本文")}
MODES = {"digest": ("digest", "ダイジェスト"), "instant": ("instant alerts", "速報")}


def lang_of(code: str | None) -> str:
    return "ja" if (code or "").lower().startswith("ja") else "en"


def _i(lang: str) -> int:
    return 1 if lang == "ja" else 0


def t(lang: str, key: str, **kw) -> str:
    """The message `key` in `lang` with HTML-escaped placeholders."""
    tmpl = _M[key][_i(lang)]
    safe = {k: (html.escape(v, quote=False) if isinstance(v, str) else v) for k, v in kw.items()}
    return tmpl.format(**safe)


def field_name(lang: str, f: str) -> str:
    return FIELDS.get(f, (f, f))[_i(lang)]


def mode_name(lang: str, m: str) -> str:
    return MODES.get(m, (m, m))[_i(lang)]


def commands(lang: str) -> list[tuple[str, str]]:
    return [(name, d[_i(lang)]) for name, d in COMMANDS.items()]
