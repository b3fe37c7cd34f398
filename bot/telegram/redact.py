"""Keep the bot token out of every log line, traceback and debug dump.

`install(token)`:
- wraps the logging record factory so each record's message (msg % args) and its formatted
  traceback are redacted when the record is created, before any handler/formatter sees it
  (works for handlers added later, e.g. pytest's caplog or the journal/json handlers);
- adds TokenFilter to the root logger's handlers and the httpx/httpcore/telegram loggers;
- raises httpx/httpcore to WARNING: they log request URLs (which contain the token) at INFO/DEBUG.
"""
from __future__ import annotations

import logging
import re
import traceback

TOKEN_RE = re.compile(r"\d{3,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}")
_tokens: set[str] = set()
_token_re: re.Pattern | None = None
_installed = False


def secrets_pattern(secrets) -> re.Pattern | None:
    """One regex for the exact values of `secrets`, whatever their length, in any letter case
    (a log line may echo a token lower- or upper-cased) and with the colon URL-encoded (%3A)."""
    alts = []
    for s in secrets:
        if s and len(s) >= 8:
            alts.append("(?::|%3a)".join(re.escape(part) for part in s.split(":")))
    alts.sort(key=len, reverse=True)
    return re.compile("|".join(alts), re.I) if alts else None


def redact(text: str) -> str:
    if not text:
        return text
    if _token_re is not None:
        text = _token_re.sub("<token>", text)
    return TOKEN_RE.sub("<token>", text)


def _scrub(record: logging.LogRecord) -> None:
    try:
        msg = record.getMessage()
    except Exception:           # a broken format string: leave it to logging to report
        msg = str(record.msg)
    red = redact(msg)
    if red != msg or record.args:
        record.msg, record.args = red, None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class TokenFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record)
        return True


def install(token: str | None) -> None:
    global _installed, _token_re
    if token:
        _tokens.add(token)
        _token_re = secrets_pattern(_tokens)
    for name in ("httpx", "httpcore"):
        lg = logging.getLogger(name)
        if lg.level < logging.WARNING:
            lg.setLevel(logging.WARNING)
    f = TokenFilter()
    for name in ("httpx", "httpcore", "telegram", "bot.telegram"):
        logging.getLogger(name).addFilter(f)
    for h in logging.getLogger().handlers:
        if not any(isinstance(x, TokenFilter) for x in h.filters):
            h.addFilter(f)
    if _installed:
        return
    _installed = True
    old = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = old(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(factory)
