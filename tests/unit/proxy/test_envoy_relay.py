"""Envoy's stderr relay, against a FAKE Envoy (a script that only writes to stderr)."""

import asyncio
import sys
from pathlib import Path

import pytest

from webhooks.proxy.envoy import LONGEST_LINE, EnvoyOptions, EnvoyProcess


def _fake_envoy(tmp_path: Path, program: str) -> EnvoyOptions:
    script = tmp_path / "fake-envoy"
    script.write_text(f"#!{sys.executable}\nimport sys\n{program}\n")
    script.chmod(0o755)
    return EnvoyOptions(binary=str(script), config_path="unused", drain_seconds=0)


def test_a_line_longer_than_the_reader_limit_does_not_stop_the_relay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 70 KB line used to end the relay: Envoy would then block on a full pipe, and its last
    lines were never read. Now it passes in pieces, and everything after it follows."""
    program = (
        "sys.stderr.write('x' * 70000 + '\\n')\n"
        "for n in range(2000):\n"
        "    sys.stderr.write(f'line {n} ' + 'y' * 100 + '\\n')\n"  # 200 KB: past a pipe's 64 KiB
        "sys.stderr.write('last words\\n')\n"
        "sys.exit(3)"
    )
    envoy = EnvoyProcess(_fake_envoy(tmp_path, program))

    async def run() -> int:
        await envoy.start()
        return await asyncio.wait_for(envoy.wait(), 20)

    assert asyncio.run(run()) == 3
    assert envoy.tail[-1] == "last words"
    relayed = capsys.readouterr().err.splitlines()
    pieces = [line for line in relayed if set(line) == {"x"}]
    assert "".join(pieces) == "x" * 70000
    assert all(len(piece) <= LONGEST_LINE for piece in pieces)
    assert relayed[-2:] == [f"line 1999 {'y' * 100}", "last words"]
