"""`sokuho run`: the service (what `make run` and the systemd unit start)."""
from __future__ import annotations


def register(sub, parent):
    p = sub.add_parser(
        "run", parents=[parent], help="run the service: poll on a schedule, post digests",
        description="Run the service: poll feeds on their schedule, match, de-duplicate, store, "
                    "and post to Telegram (or print to the console when no token is set). "
                    "SIGTERM/SIGINT stop it cleanly; SIGHUP reloads watchlists and feeds.")
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve /healthz and /metrics on 127.0.0.1:PORT (default: off)")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from bot.service import serve
    if args.metrics_port is not None:
        settings.metrics_port = args.metrics_port
    return serve(settings)
