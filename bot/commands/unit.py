"""`sokuho unit`: print or install the systemd unit."""
from __future__ import annotations

import sys
from pathlib import Path

from bot.ops import unit


def register(subparsers, parent) -> None:
    p = subparsers.add_parser(
        "unit", parents=[parent], help="print or install the systemd service unit",
        description="Print the systemd unit for sokuho (ExecStart points at this installation), "
                    "or write it with --install.")
    p.add_argument("--install", action="store_true",
                   help=f"write the unit file (default {unit.DEFAULT_PATH})")
    p.add_argument("--template", action="store_true",
                   help="the template unit sokuho@.service instead: several instances on one "
                        f"PostgreSQL database (installs to {unit.TEMPLATE_PATH})")
    p.add_argument("--path", type=Path, default=None,
                   help="where --install writes the unit")
    p.add_argument("--exec", dest="exec_path", metavar="PATH",
                   help="absolute path of the sokuho executable (default: this one)")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    try:
        exec_path = args.exec_path or unit.find_executable()
        text = unit.render_template(exec_path) if args.template else unit.render(exec_path)
    except (FileNotFoundError, ValueError) as e:
        print(f"sokuho unit: {e}", file=sys.stderr)
        return 1
    for w in unit.warnings_for(exec_path):
        print(f"warning: {w}", file=sys.stderr)
    if not args.install:
        sys.stdout.write(text)
        return 0
    target = args.path or (unit.TEMPLATE_PATH if args.template else unit.DEFAULT_PATH)
    try:
        path = unit.install(text, target)
    except OSError as e:
        print(f"sokuho unit: cannot write {target}: {e.strerror or e}"
              + (" (run as root?)" if isinstance(e, PermissionError) else ""), file=sys.stderr)
        return 1
    print(f"wrote {path} (ExecStart={exec_path} run)")
    name = path.stem
    if name.endswith("@"):                # the template: two instances as the example
        name = f"{name}1 {name}2"
    print(unit.NEXT_STEPS.format(name=name))
    return 0
