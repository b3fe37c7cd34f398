"""Settings: embedded defaults, overridden by environment variables, overridden by CLI flags.

Every setting is documented in README.md ("Settings"); tests check the table stays complete.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from bot.core.watchlist import parse_duration

_TOKEN_FILE = "telegram-token"
_DATABASE_URL_FILE = "database-url"     # systemd LoadCredential=database-url:/etc/sokuho/database-url


def _split_ints(v: str) -> tuple[int, ...]:
    out = []
    for part in v.replace(";", ",").split(","):
        part = part.strip()
        if part:
            out.append(int(part))
    return tuple(out)


class SettingsError(ValueError):
    """A setting with a value sokuho cannot use: the message names the variable, the value
    and what is accepted."""


def _int_setting(env: dict[str, str], key: str, lo: int, hi: int) -> int | None:
    v = env.get(key, "").strip()
    if not v:
        return None
    try:
        n = int(v)
    except ValueError:
        raise SettingsError(f"{key}={v!r}: not a whole number (allowed: {lo} to {hi})") from None
    if not lo <= n <= hi:
        raise SettingsError(f"{key}={v!r}: out of range (allowed: {lo} to {hi})")
    return n


def _flag(v: str | None) -> bool:
    return (v or "").strip().lower() not in ("", "0", "false", "no", "off")


@dataclass
class Settings:
    watchlists: Path = Path("watchlists")          # SOKUHO_WATCHLISTS  / --watchlists
    state: Path = Path("state")                    # SOKUHO_STATE, $STATE_DIRECTORY / --state
    feeds: Path | None = None                      # SOKUHO_FEEDS / --feeds (default: watchlists/feeds.yaml)
    telegram_api: str = "https://api.telegram.org"  # SOKUHO_TELEGRAM_API
    admins: tuple[int, ...] = ()                   # SOKUHO_ADMINS="123,456"
    allowed_chats: tuple[int, ...] = ()            # SOKUHO_ALLOWED_CHATS (empty: everyone)
    dedup_window: float = 48 * 3600                # SOKUHO_DEDUP_WINDOW ("48h")
    retention: float = 30 * 86400                  # SOKUHO_RETENTION ("30d")
    backfill: float = 24 * 3600                    # SOKUHO_BACKFILL ("24h")
    max_age: float = 2 * 86400                     # SOKUHO_MAX_AGE: older new items are stored, not alerted
    lease: float = 120                             # SOKUHO_LEASE: a claimed feed stays this instance's
    user_agent: str = "sokuho/0.1 (+https://github.com/sokuho/sokuho; news alert bot)"
    metrics_port: int | None = None                # SOKUHO_METRICS_PORT (127.0.0.1 only)
    log_format: str = "auto"                       # SOKUHO_LOG_FORMAT: auto|plain|journal|json
    debug: bool = False                            # SOKUHO_DEBUG=1 / --debug
    allow_private_networks: bool = False           # SOKUHO_ALLOW_PRIVATE_NETWORKS=1 / --allow-private-networks
    parse_timeout: float = 20.0                    # SOKUHO_PARSE_TIMEOUT: one feed's parse budget (CPU s)
    parser_nice: int = 10                          # SOKUHO_PARSER_NICE: workers' priority below main
    max_new_items: int = 200                       # SOKUHO_MAX_NEW_ITEMS: new items kept per feed per poll
    digest_max_items: int = 30                     # SOKUHO_DIGEST_MAX_ITEMS: items per digest, the rest on request
    fetch_concurrency: int = 32                    # SOKUHO_FETCH_CONCURRENCY: requests in flight, all hosts
    fetch_per_host: int = 4                        # SOKUHO_FETCH_PER_HOST: requests in flight to one host
    instance: str | None = None                    # SOKUHO_INSTANCE / --instance (default host:pid)
    _token: str | None = field(default=None, repr=False)
    # SOKUHO_DATABASE_URL / --database-url / $CREDENTIALS_DIRECTORY/database-url: PostgreSQL
    _database_url: str | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        s = cls()
        # systemd: ConfigurationDirectory= / StateDirectory= / LoadCredential=
        if env.get("CONFIGURATION_DIRECTORY") and not env.get("SOKUHO_WATCHLISTS"):
            s.watchlists = Path(env["CONFIGURATION_DIRECTORY"].split(":")[0])
        if env.get("STATE_DIRECTORY"):
            s.state = Path(env["STATE_DIRECTORY"].split(":")[0])
        if env.get("SOKUHO_WATCHLISTS"):
            s.watchlists = Path(env["SOKUHO_WATCHLISTS"])
        if env.get("SOKUHO_STATE"):
            s.state = Path(env["SOKUHO_STATE"])
        if env.get("SOKUHO_FEEDS"):
            s.feeds = Path(env["SOKUHO_FEEDS"])
        if env.get("SOKUHO_TELEGRAM_API"):
            s.telegram_api = env["SOKUHO_TELEGRAM_API"].rstrip("/")
        if env.get("SOKUHO_ADMINS"):
            s.admins = _split_ints(env["SOKUHO_ADMINS"])
        if env.get("SOKUHO_ALLOWED_CHATS"):
            s.allowed_chats = _split_ints(env["SOKUHO_ALLOWED_CHATS"])
        for key, attr in (("SOKUHO_DEDUP_WINDOW", "dedup_window"), ("SOKUHO_RETENTION", "retention"),
                          ("SOKUHO_BACKFILL", "backfill"), ("SOKUHO_MAX_AGE", "max_age"),
                          ("SOKUHO_LEASE", "lease")):
            if env.get(key):
                v = env[key].strip().lower()
                setattr(s, attr, 0.0 if v in ("0", "off", "none") else parse_duration(v))
        if env.get("SOKUHO_USER_AGENT"):
            s.user_agent = env["SOKUHO_USER_AGENT"]
        if env.get("SOKUHO_METRICS_PORT"):
            s.metrics_port = int(env["SOKUHO_METRICS_PORT"])
        if env.get("SOKUHO_INSTANCE"):
            s.instance = env["SOKUHO_INSTANCE"]
        s._database_url = env.get("SOKUHO_DATABASE_URL", "").strip() or None
        if not s._database_url and env.get("CREDENTIALS_DIRECTORY"):
            p = Path(env["CREDENTIALS_DIRECTORY"]) / _DATABASE_URL_FILE
            if p.is_file():
                s._database_url = p.read_text(encoding="utf-8").strip() or None
        if env.get("SOKUHO_LOG_FORMAT"):
            s.log_format = env["SOKUHO_LOG_FORMAT"]
        s.debug = _flag(env.get("SOKUHO_DEBUG"))
        s.allow_private_networks = _flag(env.get("SOKUHO_ALLOW_PRIVATE_NETWORKS"))
        if env.get("SOKUHO_PARSE_TIMEOUT"):
            s.parse_timeout = parse_duration(env["SOKUHO_PARSE_TIMEOUT"].strip().lower())
        for key, attr in (("SOKUHO_MAX_NEW_ITEMS", "max_new_items"),
                          ("SOKUHO_DIGEST_MAX_ITEMS", "digest_max_items")):
            if env.get(key):
                setattr(s, attr, max(1, int(env[key])))
        # politeness: how many requests at once, in all and to one host (one name or address)
        n = _int_setting(env, "SOKUHO_FETCH_CONCURRENCY", 1, 1000)
        if n is not None:
            s.fetch_concurrency = n
        n = _int_setting(env, "SOKUHO_FETCH_PER_HOST", 1, 64)
        if n is not None:
            s.fetch_per_host = n
        n = _int_setting(env, "SOKUHO_PARSER_NICE", 0, 19)
        if n is not None:
            s.parser_nice = n
        s._token = env.get("TELEGRAM_BOT_TOKEN") or None
        if not s._token and env.get("CREDENTIALS_DIRECTORY"):
            p = Path(env["CREDENTIALS_DIRECTORY"]) / _TOKEN_FILE
            if p.is_file():
                s._token = p.read_text(encoding="utf-8").strip() or None
        return s

    def apply_args(self, args) -> "Settings":
        """CLI flags win over the environment."""
        for name in ("watchlists", "state", "feeds"):
            v = getattr(args, name, None)
            if v:
                setattr(self, name, Path(v))
        if getattr(args, "debug", False):
            self.debug = True
        if getattr(args, "allow_private_networks", False):
            self.allow_private_networks = True
        if getattr(args, "log_format", None):
            self.log_format = args.log_format
        if getattr(args, "database_url", None):
            self._database_url = args.database_url
        if getattr(args, "instance", None):
            self.instance = args.instance
        return self

    # ---------------------------------------------------------------- accessors
    @property
    def telegram_token(self) -> str | None:
        return self._token

    @property
    def db_path(self) -> Path:
        return self.state / "sokuho.db"

    @property
    def database_url(self) -> str | None:
        """The PostgreSQL URL (with its password, if it has one: never print it; see
        database_shown)."""
        return self._database_url

    @property
    def database(self) -> Path | str:
        """What Store.open takes: the PostgreSQL URL when one is set, else the SQLite file."""
        return self._database_url or self.db_path

    @property
    def database_shown(self) -> str:
        from bot.adapters.store_pg import redact
        return redact(self._database_url) if self._database_url else str(self.db_path)

    @property
    def feeds_file(self) -> Path:
        return self.feeds or self.watchlists / "feeds.yaml"

    def public(self) -> dict:
        """Settings safe to print: the token is never included."""
        out = {}
        for f in fields(self):
            if f.name.startswith("_"):
                continue
            v = getattr(self, f.name)
            out[f.name] = str(v) if isinstance(v, Path) else v
        out["telegram"] = "configured" if self._token else "not configured"
        out["database"] = self.database_shown
        return out
