"""The systemd unit shipped as package data (bot/data/sokuho.service), rendered with ExecStart."""
from __future__ import annotations

from bot.adapters.files import atomic_write

import os
import shutil
import sys
from importlib import resources
from pathlib import Path

DEFAULT_PATH = Path("/etc/systemd/system/sokuho.service")
TEMPLATE_PATH = Path("/etc/systemd/system/sokuho@.service")
PLACEHOLDER = "@EXEC_START@"
# systemd hides these from the service (ProtectHome=yes): an executable there cannot start.
HIDDEN_PREFIXES = ("/home/", "/root/", "/run/user/")


def template() -> str:
    return resources.files("bot").joinpath("data/sokuho.service").read_text(encoding="utf-8")


def quote_exec(path: str) -> str:
    """An absolute path as the first word of ExecStart= (systemd quoting and % specifiers)."""
    if not os.path.isabs(path):
        raise ValueError(f"ExecStart needs an absolute path, got {path!r}")
    if any(c in path for c in "\n\r\0"):
        raise ValueError(f"unusable path for ExecStart: {path!r}")
    p = path.replace("%", "%%")
    if any(c in p for c in ' \t"\'\\$;'):
        p = '"' + p.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$") + '"'
    return p


def find_executable(argv0: str | None = None) -> str:
    """Absolute path of the installed `sokuho` console script.

    The script being run (sys.argv[0] when it is `sokuho`) wins over $PATH, so `sudo
    /opt/sokuho/bin/sokuho unit --install` points the unit at that installation.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    candidates = []
    if argv0 and Path(argv0).name == "sokuho":
        candidates.append(argv0 if os.sep in argv0 else (shutil.which(argv0) or ""))
    candidates.append(shutil.which("sokuho") or "")
    candidates.append(str(Path(sys.executable).parent / "sokuho"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    raise FileNotFoundError("cannot find the `sokuho` executable; pass --exec /path/to/sokuho")


def render(exec_path: str | None = None) -> str:
    exec_path = exec_path or find_executable()
    return template().replace(PLACEHOLDER, quote_exec(exec_path))


def render_template(exec_path: str | None = None) -> str:
    """sokuho@.service: several instances on one host sharing one PostgreSQL database
    (`systemctl start sokuho@1 sokuho@2`). The same hardened unit, with the database URL as a
    credential, the instance name in leases and `sokuho status`, and its own state folder."""
    text = render(exec_path)
    changes = [
        ("# sokuho (速報) news alert bot.", "# sokuho (速報) news alert bot, one of several "
         "instances on one PostgreSQL database\n# (sokuho@NAME.service; see README, "
         "\"Scaling out\").\n#"),
        ("Description=sokuho news alert bot\n",
         "Description=sokuho news alert bot (instance %i)\n"),
        (" run\n", " run --instance %H-%i\n"),
        ("StateDirectory=sokuho\n", "StateDirectory=sokuho/%i\n"),
        ("WorkingDirectory=/var/lib/sokuho\n", "WorkingDirectory=/var/lib/sokuho/%i\n"),
        ("EnvironmentFile=-/etc/sokuho/sokuho.env\n",
         "EnvironmentFile=-/etc/sokuho/sokuho.env\n"
         "# per instance, e.g. SOKUHO_METRICS_PORT=9465 (each instance needs its own port)\n"
         "EnvironmentFile=-/etc/sokuho/sokuho-%i.env\n"),
        ("LoadCredential=telegram-token:/etc/sokuho/telegram-token\n",
         "LoadCredential=telegram-token:/etc/sokuho/telegram-token\n"
         "# the PostgreSQL URL, postgresql://user:password@host/db (mode 0600)\n"
         "LoadCredential=database-url:/etc/sokuho/database-url\n"),
    ]
    for old, new in changes:
        if old not in text:
            raise ValueError(f"the unit has no {old.strip()!r}: cannot derive the template")
        text = text.replace(old, new, 1)
    return text


def warnings_for(exec_path: str) -> list[str]:
    out = []
    real = os.path.realpath(exec_path)
    for p in {exec_path, real}:
        if p.startswith(HIDDEN_PREFIXES):
            out.append(f"{p} is under a home directory, which the unit hides from the service "
                       "(ProtectHome=yes): install sokuho elsewhere, e.g. "
                       "`python3 -m venv /opt/sokuho && /opt/sokuho/bin/pip install sokuho`")
    return out


def install(text: str, path: Path = DEFAULT_PATH) -> Path:
    """Write the unit atomically (mode 0644)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text, mode=0o644)
    return path


NEXT_STEPS = """\
Next steps (as root):
  install -d -m 0755 /etc/sokuho
  cp watchlists/*.yaml /etc/sokuho/            # watchlists and feeds.yaml, readable (0644)
  install -m 0600 TOKENFILE /etc/sokuho/telegram-token   # or /dev/null for console output
  systemctl daemon-reload
  systemctl enable --now {name}
  systemctl status {name}; journalctl -u {name} -f"""
