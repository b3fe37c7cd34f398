"""Logging formats (plain / journald / JSON) and token redaction everywhere it could leak."""
from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading

import pytest

from bot.ops import logs
from bot.settings import Settings

TOKEN = "7012345678:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
OTHER = "123456789:ZZZfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0xx"      # token-shaped, not ours


@pytest.fixture
def setup_logs():
    root = logging.getLogger()
    saved = (root.level, sys.excepthook, threading.excepthook,
             {n: logging.getLogger(n).level for n in logs.NOISY})
    handlers = []

    def make(fmt="plain", debug=False, env=None, stream=None, token=TOKEN):
        s = Settings.from_env({"TELEGRAM_BOT_TOKEN": token, "SOKUHO_LOG_FORMAT": fmt,
                               **({"SOKUHO_DEBUG": "1"} if debug else {})})
        stream = stream or io.StringIO()
        handlers.append(logs.setup(s, stream=stream, env=env or {}))
        return stream

    yield make
    for h in handlers:
        root.removeHandler(h)
    root.setLevel(saved[0])
    sys.excepthook, threading.excepthook = saved[1], saved[2]
    for n, lvl in saved[3].items():
        logging.getLogger(n).setLevel(lvl)


def test_plain_has_timestamps(setup_logs):
    out = setup_logs("plain")
    logging.getLogger("bot.x").info("hello %s", "world")
    line = out.getvalue().strip()
    assert line.endswith("INFO bot.x: hello world")
    assert line[:4].isdigit()                       # "2024-05-01 12:00:00,123 ..."


def test_journal_priority_prefixes_and_no_timestamp(setup_logs):
    out = setup_logs("journal")
    log = logging.getLogger("bot.x")
    log.info("started")
    log.warning("slow feed")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("cycle failed")
    lines = out.getvalue().splitlines()
    assert lines[0] == "<6>INFO bot.x: started"
    assert lines[1] == "<4>WARNING bot.x: slow feed"
    assert lines[2] == "<3>ERROR bot.x: cycle failed"
    # every traceback line carries the record's priority (journald stores lines separately)
    assert len(lines) > 4 and all(l.startswith("<3>") for l in lines[2:])
    assert lines[-1] == "<3>ValueError: boom"


def test_auto_picks_journal_only_when_stderr_is_the_journal_stream(setup_logs, tmp_path):
    with open(tmp_path / "stream", "w") as f:
        st = os.fstat(f.fileno())
        out = setup_logs("auto", env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, stream=f)
        logging.getLogger("bot.x").info("under systemd")
        out = setup_logs("auto", env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, stream=f)
        logging.getLogger("bot.x").info("inherited variable, not the journal")
    lines = (tmp_path / "stream").read_text().splitlines()
    assert lines[0] == "<6>INFO bot.x: under systemd"
    assert lines[1][:4].isdigit() and lines[1].endswith("not the journal")


def test_json_lines_parse(setup_logs):
    out = setup_logs("json")
    log = logging.getLogger("bot.pipeline")
    log.info("cycle done: %d new", 3)
    try:
        {}["missing"]
    except KeyError:
        log.error("oops", exc_info=True)
    recs = [json.loads(l) for l in out.getvalue().splitlines()]
    assert [r["msg"] for r in recs] == ["cycle done: 3 new", "oops"]
    assert recs[0]["level"] == "INFO" and recs[0]["logger"] == "bot.pipeline"
    assert recs[0]["ts"].endswith("Z")
    assert "KeyError" in recs[1]["exc"]


@pytest.mark.parametrize("fmt", ["plain", "journal", "json"])
def test_token_redacted_from_message_args_and_traceback(setup_logs, fmt):
    out = setup_logs(fmt)
    log = logging.getLogger("bot.telegram")
    log.info(f"token in message {TOKEN}")
    log.info("token in args %s and %r", TOKEN, {"url": f"https://api.telegram.org/bot{TOKEN}/x"})
    log.info("token-shaped: %s, url-encoded: %s", OTHER, TOKEN.replace(":", "%3A"))
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed")
    except RuntimeError:
        log.exception("send failed")
    text = out.getvalue()
    assert TOKEN not in text and OTHER not in text and TOKEN.split(":")[1] not in text
    assert OTHER.split(":")[1] not in text
    assert text.count(logs.REDACTED) >= 5
    assert "sendMessage failed" in text                   # the rest of the traceback is kept


def test_uncaught_exception_goes_through_redaction(setup_logs):
    out = setup_logs("plain")
    try:
        raise ConnectionError(f"bot{TOKEN}")
    except ConnectionError:
        sys.excepthook(*sys.exc_info())
    assert TOKEN not in out.getvalue() and "ConnectionError" in out.getvalue()


def test_noisy_libraries_quiet_unless_debug_and_redacted_even_then(setup_logs):
    out = setup_logs("plain")
    logging.getLogger("httpx").info(f"HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getMe")
    assert out.getvalue() == ""
    out = setup_logs("plain", debug=True)
    logging.getLogger("httpx").info(f"HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getMe")
    assert "getMe" in out.getvalue() and TOKEN not in out.getvalue()


def test_setup_is_idempotent(setup_logs):
    setup_logs("plain")
    setup_logs("plain")
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_sokuho", False)]
    assert len(ours) == 1


SHORT = "4242:short-Secret_xyz"       # a token with fewer than 30 characters after the colon


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_token_redacted_in_any_letter_case_and_whatever_its_length(setup_logs, fmt):
    out = setup_logs(fmt, token=SHORT)
    log = logging.getLogger("bot.telegram")
    log.warning("echo: %s", TOKEN.lower())
    log.warning("upper: %s / %s", SHORT.upper(), SHORT.lower().replace(":", "%3a"))
    log.warning("exact: %s", SHORT)
    text = out.getvalue()
    assert "short-secret_xyz" not in text.lower()
    assert text.count(logs.REDACTED) >= 4
    assert TOKEN.lower() not in text                          # token-shaped, lower-cased


def test_telegram_redact_matches_the_exact_token_case_insensitively():
    from bot.telegram import redact
    redact.install(SHORT)
    try:
        line = f"GET /bot{SHORT.upper()}/getMe and /bot{SHORT.replace(':', '%3A').lower()}/x"
        assert "SHORT-SECRET" not in redact.redact(line).upper()
        assert redact.redact(line).count("<token>") == 2
    finally:
        redact._tokens.discard(SHORT)
        redact._token_re = redact.secrets_pattern(redact._tokens)
