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
    "off": ("Item N is off-topic: /off N", "記事 N は関係ない: /off 番号"),
    "mutestory": ("Mute item N's story: /mutestory N [3d]", "記事 N の話題をミュート: /mutestory 番号 [3d]"),
    "filters": ("Your filters: /filters [remove N]", "フィルター: /filters [remove 番号]"),
    "settings": ("Who may change settings: /settings members on|off",
                 "設定の変更権限: /settings members on|off"),
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
        "/digest — send everything pending now\n/why N — why item N matched\n"
        "/off N — item N is off-topic (teaches a filter) · /mutestory N [3d] — no more of that "
        "story\n/filters — what is held back here · /filters remove N\n"
        "/settings members on|off — in groups, let every member change settings\n/lang ja|en\n"
        "Admins: /feedback · /status · /alias add|remove LIST \"text\" · /exclude add|remove LIST \"text\" · "
        "/channel add @name",
        "/watchlists — ウォッチリストと購読状況\n/subscribe 名前 · /unsubscribe 名前\n"
        "/mode 名前 digest|instant（/mode digest|instant で全て）\n"
        "/schedule 08:00,20:00 · /timezone Asia/Tokyo\n/quiet 23:00-07:00 | off · /mute 2h | off\n"
        "/digest — 未配信分を今すぐ送信\n/why 番号 — 一致した理由\n"
        "/off 番号 — 関係ない記事（フィルターを学習）· /mutestory 番号 [3d] — その話題を止める\n"
        "/filters — このチャットで止めている記事 · /filters remove 番号\n"
        "/settings members on|off — グループで全員に設定変更を許可\n/lang ja|en\n"
        "管理者: /feedback · /status · /alias add|remove リスト \"語\" · /exclude add|remove リスト \"語\" · "
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
    "why_more": ("… and {n} more matches", "…ほか {n} 件の一致"),
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
    # ---- reader feedback (issue 11)
    "btn_off": ("👎 Off-topic", "👎 関係ない"),
    "btn_mute": ("🔇 Mute story", "🔇 話題をミュート"),
    "btn_why": ("❓ Why", "❓ 理由"),
    "digest_more": ("<i>… and {n} more: /digest more</i>", "<i>…ほか {n} 件: /digest more</i>"),
    "digest_footer": ("<i>Per item: /off N · /mutestory N · /why N (N = {nos})</i>",
                      "<i>記事ごとに: /off 番号 · /mutestory 番号 · /why 番号（{nos}）</i>"),
    "off_done": ("Marked #{n} off-topic.", "#{n} を関係ない記事として記録しました。"),
    "off_filter": ("Marked #{n} off-topic. From now on “{alias}” items with {words} are held "
                   "back here (/filters to see or undo).",
                   "#{n} を記録しました。今後「{alias}」で {words} を含む記事はこのチャットに"
                   "送りません（/filters で確認・解除）。"),
    "off_more": ("Marked #{n} off-topic. One or two more like it and I hold such items back here "
                 "(/filters).",
                 "#{n} を記録しました。似た記録があと1〜2件あれば、同様の記事を止めます（/filters）。"),
    "off_again": ("#{n} is already marked off-topic (/filters to see or undo).",
                  "#{n} は記録済みです（/filters で確認・解除）。"),
    "mute_done": ("Story of #{n} muted here until {until}: no copies or follow-ups "
                  "(/filters to undo).",
                  "#{n} の話題を {until} までミュートしました（続報・転載も送りません。"
                  "/filters で解除）。"),
    "item_none": ("No item #{n} in this chat.", "このチャットに #{n} の記事はありません。"),
    "admins_press": ("Only this chat's admins can do that here.",
                     "この操作はこのチャットの管理者のみ可能です。"),
    "admins_settings": ("Only this chat's admins can change its subscriptions and settings "
                        "(an admin can open them to everyone: /settings members on).",
                        "購読と設定の変更はこのチャットの管理者のみ可能です（管理者は "
                        "/settings members on で全員に許可できます）。"),
    "filters_head": ("<b>Held back in this chat</b> (undo: /filters remove N):",
                     "<b>このチャットで止めている記事</b>（解除: /filters remove 番号）:"),
    "filters_none": ("No filters here. 👎 Off-topic under an alert (or /off N) teaches one; "
                     "🔇 Mute story (or /mutestory N) mutes a story.",
                     "フィルターはありません。速報の 👎（または /off 番号）で学習し、"
                     "🔇（または /mutestory 番号）で話題をミュートします。"),
    "filter_words": ("{id}. {watchlist}: “{alias}” with {words} · {marks} marks, {held} held",
                     "{id}. {watchlist}: 「{alias}」＋ {words} · 記録 {marks} 件、保留 {held} 件"),
    "filter_story": ("{id}. muted story until {until}: {title} · {held} held",
                     "{id}. {until} までミュート: {title} · 保留 {held} 件"),
    "filter_removed": ("Filter {id} removed. {n} held item(s) come with your next digest "
                       "(/digest sends them now).",
                       "フィルター {id} を解除しました。保留中の {n} 件は次のダイジェストで"
                       "お届けします（/digest で今すぐ）。"),
    "filter_unknown": ("No filter {id} here (see /filters).",
                       "フィルター {id} はありません（/filters で確認）。"),
    "settings_show": ("Settings of this chat: members may change settings: {members} "
                      "(/settings members on|off).",
                      "このチャットの設定: メンバーによる設定変更: {members}"
                      "（/settings members on|off）。"),
    "settings_members": ("Members may change this chat's settings: {members}.",
                         "メンバーによる設定変更: {members}。"),
    "on": ("on", "許可"),
    "off_word": ("off (admins only)", "不可（管理者のみ）"),
    "fb_none": ("No watchlist suggestions: not enough off-topic marks yet.",
                "提案はありません（関係ない記事の記録がまだ少ないため）。"),
    "fb_head": ("<b>Reader feedback</b>: aliases most often marked off-topic (last {days} days)",
                "<b>読者フィードバック</b>: 関係ないと記録された割合の高い別名（過去 {days} 日）"),
    "fb_applied": ("Applied in <b>{name}</b> ({file}): {what}. The watcher reloads it.",
                   "<b>{name}</b>（{file}）に適用: {what}。自動で再読み込みされます。"),
    "fb_already": ("Suggestion {id} was already applied.", "提案 {id} は適用済みです。"),
    "fb_apply_btn": ("✅ Apply {n}", "✅ {n} を適用"),
    "fb_line": ("<b>{n}.</b> “{alias}” ({watchlist}): {marks}/{delivered} off-topic ({share}), "
                "{chats} chat(s)\n   → {edit}: stops matching {lost} stored stories ({marked} "
                "marked off-topic, {kept} kept)",
                "<b>{n}.</b> 「{alias}」（{watchlist}）: {marks}/{delivered} 件が関係ない（{share}）、"
                "{chats} チャット\n   → {edit}: 保存済み {lost} 件が対象外に（関係ない {marked} 件、"
                "残した記事 {kept} 件）"),
    "fb_line_none": ("• “{alias}” ({watchlist}): {marks}/{delivered} off-topic ({share}) → no "
                     "edit found that keeps every item readers kept",
                     "• 「{alias}」（{watchlist}）: {marks}/{delivered} 件が関係ない（{share}）→ "
                     "残した記事を落とさない修正は見つかりません"),
    "fb_exclude": ("exclude phrase “{text}”", "除外語「{text}」"),
    "fb_unless": ("unless “{text}” on alias “{alias}”", "別名「{alias}」に unless「{text}」"),
    "fb_needs_context": ("alias “{alias}” needs a context word", "別名「{alias}」に文脈語を必須に"),
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


def alert_keyboard(lang: str, no: int, done: frozenset[str] = frozenset()):
    """The buttons under an instant alert: off-topic, mute story, why (callback data < 20 bytes).
    `done`: kinds already recorded for the item ("off", "mute"), shown with a check mark."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    def b(kind: str, key: str) -> InlineKeyboardButton:
        label = t(lang, key) + (" ✓" if kind in done else "")
        return InlineKeyboardButton(label, callback_data=f"{kind}:{no}")
    return InlineKeyboardMarkup([[b("off", "btn_off"), b("mute", "btn_mute"),
                                  b("why", "btn_why")]])


def edit_name(lang: str, kind: str, text: str, alias: str) -> str:
    """A suggested watchlist edit in words (HTML-escaped): exclude / unless / needs_context."""
    return t(lang, f"fb_{kind}", text=text, alias=alias)


def digest_footer(lang: str, nos: list[int | None]) -> str:
    got = sorted(n for n in nos if n is not None)
    if not got:
        return ""
    ranges = f"#{got[0]}" if len(got) == 1 else f"#{got[0]}–#{got[-1]}"
    return t(lang, "digest_footer", nos=ranges)


def commands(lang: str) -> list[tuple[str, str]]:
    return [(name, d[_i(lang)]) for name, d in COMMANDS.items()]
