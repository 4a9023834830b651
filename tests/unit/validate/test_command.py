"""The offline `validate` command: output lines, skipped kinds, exit codes."""

import argparse
import io
from pathlib import Path

import pytest

from tests.unit.validate.corpus import CORPUS
from webhooks.validate import command

GOOD = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: good, namespace: shop}
spec: {hosts: [a], gateways: [gw.istio-system], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
"""
BAD = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bad}
spec: {}
"""


def run(tmp_path: Path, *texts: str) -> tuple[int, str]:
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"doc{index}.yaml"
        path.write_text(text)
        paths.append(str(path))
    args = argparse.Namespace(filename=paths, namespace="default")
    out = io.StringIO()
    documents = command.read_all(args.filename)
    invalid = command.check(documents, args.namespace, out)
    return (1 if invalid else 0), out.getvalue()


def test_valid_input_exits_0_and_reports_warnings_and_skips(tmp_path: Path) -> None:
    code, output = run(tmp_path, GOOD)
    assert code == 0
    assert "VirtualService/shop/good: Warning: using legacy gatewayName format" in output
    assert "ConfigMap/default/cm: skipped (not a mesh resource)" in output


def test_invalid_input_exits_1_naming_the_document(tmp_path: Path) -> None:
    code, output = run(tmp_path, GOOD, BAD)
    assert code == 1
    assert (
        "Gateway/default/bad: configuration is invalid: gateway must have at least one server"
        in output
    )


def test_run_reads_directories_and_returns_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    assert command.run(argparse.Namespace(filename=[str(tmp_path)], namespace="default")) == 1
    dataset = str(CORPUS / "dataset")
    assert command.run(argparse.Namespace(filename=[dataset], namespace="default")) == 0


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = argparse.Namespace(filename=[str(tmp_path / "missing.yaml")], namespace="default")
    assert command.run(missing) == 2
    (tmp_path / "broken.yaml").write_text("a: [b\n")
    broken = argparse.Namespace(filename=[str(tmp_path / "broken.yaml")], namespace="default")
    assert command.run(broken) == 2
    assert "cannot read input" in capsys.readouterr().err
    (tmp_path / "deep.yaml").write_text("[" * 5000)
    deep = argparse.Namespace(filename=[str(tmp_path / "deep.yaml")], namespace="default")
    assert command.run(deep) == 2
    assert capsys.readouterr().err == (
        f"error: cannot read input: {tmp_path / 'deep.yaml'}: YAML nested too deeply\n"
    )
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.yaml").write_text("kind: Service\n")
    (tmp_path / "dir" / "b.yaml").write_bytes(b"kind: \xff\n")
    in_dir = argparse.Namespace(filename=[str(tmp_path / "dir")], namespace="default")
    assert command.run(in_dir) == 2
    assert capsys.readouterr().err == (
        f"error: cannot read input: {tmp_path / 'dir' / 'b.yaml'}: not UTF-8 text "
        "(invalid start byte at byte 6)\n"
    )


def test_integer_map_keys_from_yaml_become_strings() -> None:
    assert command.load_documents("a: {8080: x, true: z}") == [{"a": {"8080": "x", "true": "z"}}]
