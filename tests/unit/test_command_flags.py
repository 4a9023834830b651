"""Bad flag values and unwritable outputs get one line and a non-zero exit, never a traceback or
a value quietly changed (a plain int port of 99999 would listen on 34463)."""

from pathlib import Path

import pytest

from webhooks import cli
from webhooks.server import command


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--local", "--port", "99999"], "argument --port: not a port (1-65535): '99999'"),
        (["serve", "--local", "--port", "0"], "not a port (1-65535): '0'"),
        (["serve", "--local", "--port", "\u0669\u0669"], "not a whole number"),  # Arabic-Indic
        (["serve", "--local", "--cert-poll-seconds", "nan"], "above 0: 'nan'"),
        (["serve", "--local", "--cert-poll-seconds", "-1"], "above 0: '-1'"),
        (["serve", "--cabundle-poll-seconds", "inf"], "above 0: 'inf'"),
        (["serve", "--local", "--max-body-bytes", "-5"], "argument --max-body-bytes: not a whole"),
        (["serve", "--serving-cert-validity", "99999999999999d"], "too long a duration"),
        (["serve", "--serving-cert-validity", "0d"], "must be longer than zero"),
        (["serve", "--serving-cert-validity", "3651d"], "too long a duration (at most 3650d)"),
        (["serve", "--serving-cert-validity", "\u0663d"], "not a duration like 30d"),
        (["certs", "issue", "--service", "s", "--namespace", "n", "--days", "0"], "from 1 to"),
        (["agent", "wait", "--timeout", "nan"], "argument --timeout: must be a finite number"),
        (["certs", "issue", "--service", "s", "--namespace", "n", "--days", "9" * 12], "from 1"),
        (["serve", "--revision", "Canary"], "argument --revision: not a revision (a DNS label)"),
        (["serve", "--revision", "a" * 64], "not a revision (a DNS label)"),
    ],
)
def test_bad_values_are_refused_by_argparse(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Parsing only: were a check lost, `serve --local` would start a server rather than fail.
    with pytest.raises(SystemExit) as exited:
        cli.build_parser(argv).parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("", "cannot issue for service '' in namespace 'n': Attribute's length"),
        ("s" * 70, "in namespace 'n': Attribute's length must be >= 1 and <= 64"),
        ("b\u00fccher", "in namespace 'n': DNSName values should be passed as an A-label"),
    ],
)
def test_certs_issue_refuses_names_it_cannot_put_in_a_certificate(
    tmp_path: Path, service: str, message: str
) -> None:
    argv = ["certs", "issue", "--service", service, "--namespace", "n", "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert str(exited.value.code).startswith("certs issue: ")
    assert message in str(exited.value.code)


def test_certs_issue_into_a_file_is_one_line(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.touch()
    argv = ["certs", "issue", "--service", "s", "--namespace", "n", "--out", str(taken)]
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert str(exited.value.code) == f"certs issue: [Errno 17] File exists: '{taken}'"


def test_serve_local_into_a_file_is_one_line(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.touch()
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--local", "--port", "1", "--certs-dir", str(taken)])
    assert str(exited.value.code).startswith("serve: [Errno 17] File exists")


def test_inject_to_an_unwritable_output_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "pod.yaml"
    source.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n")
    assert cli.main(["inject", "-f", str(source), "-o", f"{tmp_path}/missing/out.yaml"]) == 1
    assert capsys.readouterr().err == (
        f"inject: cannot write {tmp_path}/missing/out.yaml: No such file or directory\n"
    )


@pytest.mark.parametrize(("given", "revision"), [([], "default"), (["--revision", ""], "default")])
def test_the_default_revision_is_written_default(given: list[str], revision: str) -> None:
    argv = ["serve", *given]
    assert cli.build_parser(argv).parse_args(argv).revision == revision


def test_a_serving_validity_within_three_checks_is_refused(tmp_path: Path) -> None:
    """Renewal is noticed at the next check: 30s certificates checked every 60s would expire."""
    argv = ["serve", "--namespace", "n", "--service", "s", "--serving-cert-validity", "30s"]
    args = cli.build_parser(argv).parse_args(argv)
    with pytest.raises(SystemExit) as exited:
        command._cluster_settings(args)
    assert str(exited.value) == (
        "serve: --serving-cert-validity must be more than 3 x --serving-cert-check-seconds (60s), "
        "or certificates expire before renewal"
    )
