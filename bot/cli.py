"""The `sokuho` command: a thin layer over the library. Each command lives in bot/commands/<name>.py
and provides `register(subparsers)`, which adds its parser and sets `func=run(args, settings) -> int`.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys

from bot import __version__
from bot.settings import Settings, SettingsError

# Order here is the order in `sokuho --help`.
COMMANDS = ["match", "poll", "run", "check", "explain", "status", "feeds", "backup", "db", "unit",
            "feedback"]


def common_parent() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    g.add_argument("--watchlists", metavar="DIR",
                   help="folder with watchlist YAML files and feeds.yaml (default: watchlists)")
    g.add_argument("--feeds", metavar="FILE",
                   help="feed list (default: feeds.yaml in the watchlist folder)")
    g.add_argument("--state", metavar="DIR",
                   help="folder for the SQLite state (default: state, or $STATE_DIRECTORY)")
    g.add_argument("--database-url", metavar="URL",
                   help="PostgreSQL database (postgresql://user@host/db) instead of SQLite in "
                        "the state folder (default: $SOKUHO_DATABASE_URL)")
    g.add_argument("--instance", metavar="NAME",
                   help="this instance's name in leases and `sokuho status` (default host:pid)")
    g.add_argument("--debug", action="store_true", help="verbose logging")
    g.add_argument("--allow-private-networks", action="store_true",
                   help="let feeds reach loopback/private/link-local addresses (intranet feeds; "
                        "default: refused, see README 'Security')")
    g.add_argument("--log-format", choices=["auto", "plain", "journal", "json"],
                   help="log line format on stderr (default: auto)")
    return p


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; only="poll": just that command's parser (its module alone is
    imported: `sokuho poll` does not pay for the Telegram or OPML modules)."""
    parser = argparse.ArgumentParser(
        prog="sokuho",
        description="sokuho (速報): polls news feeds, matches watchlists in Japanese, English and "
                    "Spanish, drops duplicates, and posts digests and alerts.")
    parser.add_argument("--version", action="version", version=f"sokuho {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = common_parent()
    for name in COMMANDS:
        if only is not None and name != only:
            continue
        try:
            mod = importlib.import_module(f"bot.commands.{name}")
        except ModuleNotFoundError as e:          # a command still being written
            if e.name != f"bot.commands.{name}":
                raise
            continue
        mod.register(sub, parent)
    return parser


def setup_logging(settings: Settings) -> None:
    try:
        from bot.ops.logs import setup
    except ModuleNotFoundError:
        logging.basicConfig(level=logging.DEBUG if settings.debug else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        return
    setup(settings)


# The cyclic GC's young generation is collected every 700 new container objects by default: a
# cold `poll --once` of 500 feeds x 50 items allocates a few per item in this process (entries
# and signatures from the parser workers, the duplicate index), so ~670 young, ~60 middle and 5
# full collections (~0.65 s, 25 us per item). Nothing here relies on prompt cycle collection
# (reference counting frees the rest at once); collecting every 50,000 leaves ~0.1 s.
GC_THRESHOLD = (50_000, 20, 10)


def main(argv: list[str] | None = None) -> int:
    """The console command. `argv` None: the process's own command line, and the process ends
    with the command: what the command leaves in memory is frozen out of the cyclic GC
    (gc.freeze) before the interpreter exits. Its final collections would otherwise walk and
    free every object left, most of them the duplicate index (~0.4 s after a cold poll of 25,000
    items), memory the OS takes back anyway. atexit handlers, stream flushing and the closes
    the commands do themselves run as before. A caller passing `argv` (a library, the tests)
    keeps its GC as it was."""
    code = _main(argv, own_process=argv is None)
    if argv is None:
        gc.freeze()
    return code


# Commands that end their process when they are done (one cycle, one batch of files): in a
# process of their own, the cyclic GC is off while they run. What it would walk is the
# duplicate index growing with every item (a cold `poll --once` of 25,000 items: ~50 young
# collections, 0.15-0.35 s), and what it would find is almost nothing (a few thousand objects in
# reference cycles over the whole poll); their memory goes back to the OS at exit.
ONE_SHOT = frozenset({"poll", "match"})


def _main(argv: list[str] | None, own_process: bool = False) -> int:
    gc.set_threshold(*GC_THRESHOLD)
    argv = sys.argv[1:] if argv is None else list(argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env().apply_args(args)
    except SettingsError as e:
        print(f"sokuho: invalid setting: {e}", file=sys.stderr)
        return 2
    setup_logging(settings)
    if own_process and args.command in ONE_SHOT:
        gc.disable()
    try:
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `sokuho match ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
