"""Logging setup: plain lines, journald-friendly lines under systemd, or JSON lines; never the token.

Formats (settings.log_format):
  plain    "2024-05-01 12:00:00,123 INFO bot.pipeline: message"
  journal  "<6>INFO bot.pipeline: message"  (sd-daemon(3) priority prefix on every line, no
           timestamp: journald adds its own)
  json     {"ts": "...", "level": "INFO", "logger": "...", "msg": "...", "exc": "..."}
  auto     journal when stderr is connected to the journal ($JOURNAL_STREAM), else plain
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from datetime import datetime, timezone

# Telegram bot tokens: "<bot id>:<35 chars>", also URL-encoded (%3A) inside request URLs.
TOKEN_RE = re.compile(r"(?<![0-9])\d{5,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}")
REDACTED = "<redacted>"

PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
            logging.DEBUG: 7}

# Libraries that log each request (httpx logs the Bot API URL, which contains the token) or each
# scheduled run. WARNING unless --debug; their records pass through the redaction filter anyway.
NOISY = ("httpx", "httpcore", "telegram", "telegram.ext", "apscheduler", "aiohttp.access",
         "hpack", "asyncio")


class RedactFilter(logging.Filter):
    """Removes the token (and anything shaped like a bot token) from the message, its arguments
    and the exception traceback. Attach to handlers: handler filters see records from every
    logger, and the redacted record is what every later handler sees too."""

    def __init__(self, secrets: tuple[str, ...] = ()):
        super().__init__()
        from bot.telegram.redact import secrets_pattern
        self.secrets = tuple(s for s in secrets if s and len(s) >= 8)
        self._exact = secrets_pattern(self.secrets)     # exact value, any letter case

    def redact(self, text: str) -> str:
        if self._exact is not None:
            text = self._exact.sub(REDACTED, text)
        return TOKEN_RE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:          # bad format args: keep what we can, redacted
            msg = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.redact(msg), None
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redact(text)
            record.exc_info = None    # no formatter may render the raw traceback again
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JournalFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{PRIORITY.get(record.levelno, 6 if record.levelno < 30 else 3)}>"
        # journald stores each line as one entry: each gets the priority of the record.
        return "\n".join(prefix + line for line in text.splitlines() or [""])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, timezone.utc)
                       .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
               "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False)


def under_journal(env=None, stream=None) -> bool:
    """True when `stream` (stderr) is the journal stream systemd gave us (systemd.exec(5))."""
    env = os.environ if env is None else env
    value = env.get("JOURNAL_STREAM", "")
    if not value:
        return False
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat((stream or sys.stderr).fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def make_formatter(fmt: str, *, env=None, stream=None) -> logging.Formatter:
    if fmt == "auto":
        fmt = "journal" if under_journal(env, stream) else "plain"
    if fmt == "journal":
        return JournalFormatter()
    if fmt == "json":
        return JsonFormatter()
    if fmt != "plain":
        raise ValueError(f"unknown log format {fmt!r} (auto, plain, journal, json)")
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def setup(settings, *, stream=None, env=None) -> logging.Handler:
    """Configure the root logger (idempotent: replaces the handler a previous call installed)."""
    stream = stream or sys.stderr
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_sokuho", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream)
    handler._sokuho = True  # type: ignore[attr-defined]
    handler.setFormatter(make_formatter(settings.log_format or "auto", env=env, stream=stream))
    redact = RedactFilter((settings.telegram_token or "",))
    handler.addFilter(redact)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if settings.debug else logging.INFO)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.NOTSET if settings.debug else logging.WARNING)
    _install_excepthooks(redact)
    return handler


def _install_excepthooks(redact: RedactFilter) -> None:
    """Uncaught exceptions go through logging (and so through redaction), not straight to stderr."""
    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            return sys.__excepthook__(exc_type, exc, tb)
        logging.getLogger("sokuho").critical("uncaught exception", exc_info=(exc_type, exc, tb))

    def thread_hook(args):
        if args.exc_type is SystemExit:
            return
        logging.getLogger("sokuho").critical(
            "uncaught exception in thread %s", getattr(args.thread, "name", "?"),
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = hook
    threading.excepthook = thread_hook
