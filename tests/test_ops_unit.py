"""The shipped systemd unit: verifies cleanly, stays hardened, points at the real executable."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.ops import unit
from bot.settings import Settings

SOKUHO = Path(sys.executable).parent / "sokuho"          # the venv's console script
EXPOSURE_THRESHOLD = 1.5     # measured 1.1 ("OK") with systemd 252; fail if hardening regresses
needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sokuho.service"
    p.write_text(text, encoding="utf-8")
    return p


def _analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=60)


def test_render_points_at_the_console_script():
    assert SOKUHO.is_file()
    text = unit.render(str(SOKUHO))
    assert f"ExecStart={SOKUHO} run\n" in text
    assert unit.PLACEHOLDER not in text
    for line in ("Type=notify", "Restart=on-failure", "StateDirectory=sokuho",
                 "ConfigurationDirectory=sokuho", "DynamicUser=yes", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "SystemCallFilter=@system-service",
                 "LoadCredential=telegram-token:/etc/sokuho/telegram-token"):
        assert f"\n{line}\n" in text, line
    assert re.search(r"^WatchdogSec=\d+", text, re.M)
    assert re.search(r"^MemoryMax=\d+", text, re.M)


@needs_analyze
def test_unit_verifies_without_any_output(tmp_path):
    path = _write(tmp_path, unit.render(str(SOKUHO)))
    r = _analyze("verify", str(path))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


@needs_analyze
def test_verify_would_catch_a_broken_unit(tmp_path):
    """The check above is meaningful: a warning-only problem produces output (exit code 0)."""
    text = unit.render(str(SOKUHO)).replace("[Service]\n", "[Service]\nNoSuchSetting=1\n")
    r = _analyze("verify", str(_write(tmp_path, text)))
    assert r.returncode == 0 and "NoSuchSetting" in (r.stdout + r.stderr)


@needs_analyze
def test_security_exposure_under_threshold(tmp_path):
    path = _write(tmp_path, unit.render(str(SOKUHO)))
    r = _analyze("security", "--offline=true", f"--threshold={int(EXPOSURE_THRESHOLD * 10)}",
                 str(path))
    m = re.search(r"Overall exposure level for sokuho\.service: (\d+\.\d)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= EXPOSURE_THRESHOLD, r.stdout
    assert r.returncode == 0


@pytest.mark.parametrize("path,expected", [
    ("/opt/sokuho/bin/sokuho", "/opt/sokuho/bin/sokuho"),
    ("/opt/my tools/sokuho", '"/opt/my tools/sokuho"'),
    ("/opt/100%/sokuho", "/opt/100%%/sokuho"),
])
def test_exec_quoting(path, expected):
    assert unit.quote_exec(path) == expected


def test_relative_exec_rejected():
    with pytest.raises(ValueError):
        unit.quote_exec("bin/sokuho")


def test_home_directory_install_warns():
    assert unit.warnings_for("/home/me/.local/bin/sokuho")
    assert not unit.warnings_for("/opt/sokuho/bin/sokuho")


def _cli(argv, capsys):
    args = build_parser().parse_args(argv)
    rc = args.func(args, Settings.from_env({}).apply_args(args))
    return rc, capsys.readouterr()


def test_unit_command_prints_and_installs(tmp_path, capsys):
    rc, out = _cli(["unit", "--exec", str(SOKUHO)], capsys)
    assert rc == 0 and out.out == unit.render(str(SOKUHO))
    target = tmp_path / "etc" / "sokuho.service"
    rc, out = _cli(["unit", "--install", "--path", str(target), "--exec", str(SOKUHO)], capsys)
    assert rc == 0 and target.read_text() == unit.render(str(SOKUHO))
    assert target.stat().st_mode & 0o777 == 0o644
    assert "systemctl enable --now sokuho" in out.out


def test_find_executable_prefers_the_running_script():
    assert unit.find_executable(str(SOKUHO)) == str(SOKUHO)


def test_template_unit_for_several_instances(tmp_path, capsys):
    text = unit.render_template(str(SOKUHO))
    for line in (f"ExecStart={SOKUHO} run --instance %H-%i",
                 "LoadCredential=database-url:/etc/sokuho/database-url",
                 "StateDirectory=sokuho/%i", "EnvironmentFile=-/etc/sokuho/sokuho-%i.env",
                 "After=network-online.target postgresql.service", "DynamicUser=yes"):
        assert f"\n{line}\n" in text, line
    # the same hardening as the single unit: only the lines above differ
    single = set(unit.render(str(SOKUHO)).splitlines())
    extra = [x for x in text.splitlines() if x not in single and not x.startswith("#")]
    assert len(extra) == 6, extra
    target = tmp_path / "units" / "sokuho@.service"
    rc, out = _cli(["unit", "--template", "--install", "--path", str(target), "--exec",
                    str(SOKUHO)], capsys)
    assert rc == 0 and target.read_text() == text and "sokuho@1 sokuho@2" in out.out
    if shutil.which("systemd-analyze"):
        r = _analyze("verify", str(target))
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
