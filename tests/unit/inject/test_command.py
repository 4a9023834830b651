import argparse
import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhooks import cli, yamlio
from webhooks.inject import command

WORKLOADS = {
    "Deployment": ("apps/v1", ["spec", "template"]),
    "StatefulSet": ("apps/v1", ["spec", "template"]),
    "DaemonSet": ("apps/v1", ["spec", "template"]),
    "ReplicaSet": ("apps/v1", ["spec", "template"]),
    "ReplicationController": ("v1", ["spec", "template"]),
    "Job": ("batch/v1", ["spec", "template"]),
    "CronJob": ("batch/v1", ["spec", "jobTemplate", "spec", "template"]),
}
TEMPLATE = {
    "metadata": {"labels": {"app": "w"}},
    "spec": {"containers": [{"name": "w", "image": "x"}]},
}


def workload(kind: str) -> dict[str, Any]:
    api_version, path = WORKLOADS[kind]
    document: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}}
    holder = document
    for key in path[:-1]:
        holder = holder.setdefault(key, {})
    holder[path[-1]] = yaml.safe_load(yaml.safe_dump(TEMPLATE))
    return document


def template_of(document: dict[str, Any]) -> dict[str, Any]:
    holder = document
    for key in WORKLOADS[document["kind"]][1]:
        holder = holder[key]
    return holder


def run(tmp_path: Path, documents: list[Any], *flags: str) -> tuple[int, list[Any], str]:
    """Exit code, the documents written (none if no file was written) and stderr."""
    source = tmp_path / "in.yaml"
    source.write_text(yaml.safe_dump_all(documents))
    return run_file(tmp_path, source, *flags)


def run_file(tmp_path: Path, source: Path, *flags: str) -> tuple[int, list[Any], str]:
    target = tmp_path / "out.yaml"
    target.unlink(missing_ok=True)
    parser = argparse.ArgumentParser()
    command.configure(parser)
    args = parser.parse_args(["-f", str(source), "-o", str(target), *flags])
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = command.run(args)
    output = list(yaml.safe_load_all(target.read_text())) if target.exists() else []
    return code, output, stderr.getvalue()


@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_every_workload_kind_gets_its_template_injected(tmp_path: Path, kind: str) -> None:
    code, output, _ = run(tmp_path, [workload(kind)])
    assert code == 0
    names = [c["name"] for c in template_of(output[0])["spec"]["containers"]]
    assert names == ["w", "istio-proxy"]
    labels = template_of(output[0])["metadata"]["labels"]
    assert labels["service.istio.io/canonical-name"] == "w"


def test_pods_and_lists_are_injected_and_other_documents_pass_through(tmp_path: Path) -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, **TEMPLATE}
    listed = {"apiVersion": "v1", "kind": "List", "items": [workload("Deployment"), service]}
    skipped = yaml.safe_load(yaml.safe_dump(pod))
    skipped["metadata"]["labels"] = {"sidecar.istio.io/inject": "false"}
    code, output, _ = run(tmp_path, [service, pod, listed, skipped])
    assert code == 0
    assert [d["kind"] for d in output] == ["Service", "Pod", "List", "Pod"]
    assert output[0] == service
    assert output[1]["spec"]["containers"][-1]["name"] == "istio-proxy"
    assert template_of(output[2]["items"][0])["spec"]["containers"][-1]["name"] == "istio-proxy"
    assert output[2]["items"][1] == service
    assert output[3] == skipped


def test_documents_of_odd_shapes_pass_through_or_are_refused_in_a_line(tmp_path: Path) -> None:
    odd_metadata = {**workload("Deployment"), "metadata": ["not", "a", "map"]}
    odd_template = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": 7}}
    odd_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": [1]}
    code, output, _ = run(tmp_path, [odd_metadata, odd_template, 42])
    assert code == 0
    assert template_of(output[0])["spec"]["containers"][-1]["name"] == "istio-proxy"
    assert output[1:] == [odd_template, 42]
    code, output, stderr = run(tmp_path, [odd_pod])
    assert (code, output) == (1, [])
    assert stderr == "inject: Pod default/p: pod has no metadata or no spec\n"
    numbered = workload("Deployment")
    numbered["spec"]["template"]["metadata"]["annotations"] = {1: "one"}  # YAML allows it
    code, output, _ = run(tmp_path, [numbered])
    assert code == 0  # kubectl would send the key as "1", and so does the command
    assert template_of(output[0])["metadata"]["annotations"]["1"] == "one"
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 5000)
    code, output, stderr = run_file(tmp_path, deep)
    assert (code, output, stderr) == (1, [], "inject: YAML nested too deeply\n")


def test_native_sidecars_flag_and_kube_version(tmp_path: Path) -> None:
    _, native, _ = run(tmp_path, [workload("Job")], "--native-sidecars", "true")
    assert template_of(native[0])["spec"]["initContainers"][1]["restartPolicy"] == "Always"
    _, auto_old, _ = run(tmp_path, [workload("Job")], "--kube-version", "1.28")
    assert "initContainers" in template_of(auto_old[0])["spec"]
    assert template_of(auto_old[0])["spec"]["containers"][-1]["name"] == "istio-proxy"
    _, auto_new, _ = run(tmp_path, [workload("Job")], "--kube-version", "v1.31.2")
    assert template_of(auto_new[0])["spec"]["containers"] == [TEMPLATE["spec"]["containers"][0]]


def test_explain_prints_each_decision(tmp_path: Path) -> None:
    host = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "h", "namespace": "ns"}}
    host["spec"] = {"hostNetwork": True, "containers": [{"name": "h", "image": "x"}]}
    code, _, explained = run(tmp_path, [workload("Deployment"), host], "--explain")
    assert code == 0
    assert "Deployment default/w: inject: injection policy is enabled" in explained
    assert "Pod ns/h: skip: pod uses the host network" in explained


def test_a_bad_annotation_fails_naming_the_document_and_writes_nothing(tmp_path: Path) -> None:
    bad = workload("Deployment")
    template_of(bad)["metadata"]["annotations"] = {"sidecar.istio.io/proxyCPU": "lots"}
    code, output, error = run(tmp_path, [bad])
    assert code == 1
    assert output == []
    assert "Deployment default/w" in error
    assert "'lots'" in error


def test_a_config_file_replaces_the_built_in_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("proxyImage: my/proxy:9\nrevision: canary\n")
    code, output, _ = run(tmp_path, [workload("Deployment")], "--config", str(config))
    assert code == 0
    template = template_of(output[0])
    assert template["spec"]["containers"][-1]["image"] == "my/proxy:9"
    assert template["metadata"]["annotations"]["istio.io/rev"] == "canary"


def test_a_bad_config_file_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("policy: never\n")
    code, _, error = run(tmp_path, [workload("Deployment")], "--config", str(config))
    assert code == 1
    assert "policy" in error


def test_empty_documents_stay_in_place(tmp_path: Path) -> None:
    source = tmp_path / "in.yaml"
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}\n"
    source.write_text(f"---\n# nothing\n---\n{service}---\n---\n{pod}---\n")
    code, output, _ = run_file(tmp_path, source)
    assert code == 0
    assert [d and d["kind"] for d in output] == [None, "Service", None, "Pod", None]
    assert output[3]["spec"]["containers"][-1]["name"] == "istio-proxy"


def test_scalars_are_read_and_written_as_kubectl_reads_them(tmp_path: Path) -> None:
    # PyYAML alone would read 1:30 as 90 and 2024-01-01 as a date, and write `0o17` unquoted,
    # which kubectl then reads as 15.
    source = tmp_path / "in.yaml"
    source.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        "data: {a: 1:30, b: 2024-01-01, c: '0o17', d: 'on', e: [001:db8::]}\n"
    )
    code, _, _ = run_file(tmp_path, source)
    assert code == 0
    text = (tmp_path / "out.yaml").read_text()
    data = yamlio.load_all(text)[0]["data"]
    assert data == {"a": "1:30", "b": "2024-01-01", "c": "0o17", "d": "on", "e": ["001:db8::"]}
    assert yaml.safe_load(text)["data"] == data


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"kind: Pod\nmetadata: {name: \xe9}\n"])
def test_input_that_is_not_utf8_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "in.yaml"
    source.write_bytes(content)
    code, output, error = run_file(tmp_path, source)
    assert code == 2
    assert output == []
    assert error.startswith(f"inject: {source}: not UTF-8 text")
    assert "Traceback" not in error


def test_the_cli_reads_stdin_and_writes_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(yaml.safe_dump(workload("DaemonSet"))))
    assert cli.main(["inject", "-f", "-"]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert template_of(out)["spec"]["containers"][-1]["name"] == "istio-proxy"
