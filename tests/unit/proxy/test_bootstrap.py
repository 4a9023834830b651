"""Bootstrap rendering: pod identity from env and downward-API files, override, port shift."""

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, strategies as st

from webhooks import cli, mesh
from webhooks.proxy import bootstrap
from webhooks.proxy.bootstrap import PodIdentity

ENV = {
    mesh.POD_NAME_ENV: "web-5d9f7-abcde",
    mesh.POD_NAMESPACE_ENV: "shop",
    mesh.INSTANCE_IP_ENV: "10.244.1.7",
    mesh.SERVICE_ACCOUNT_ENV: "web",
    mesh.NODE_NAME_ENV: "node-a",
}


def write_labels(directory: Path, labels: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{key}={json.dumps(value)}\n" for key, value in labels.items())
    (directory / "labels").write_text(text)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9./-]{0,20}", fullmatch=True), st.text()))
def test_downward_file_round_trips(labels: dict[str, str]) -> None:
    text = "".join(f"{key}={json.dumps(value)}\n" for key, value in labels.items())
    assert bootstrap.parse_downward_file(text) == {k: str(v) for k, v in labels.items()}


def test_identity_from_env_and_labels(tmp_path: Path) -> None:
    write_labels(tmp_path, {"app": "web", "pod-template-hash": "5d9f7"})
    pod = bootstrap.read_pod_identity(ENV, tmp_path)
    assert (pod.node_id, pod.cluster, pod.ip) == ("web-5d9f7-abcde.shop", "web.shop", "10.244.1.7")


@pytest.mark.parametrize(
    ("labels", "workload", "expected"),
    [
        ({mesh.CANONICAL_NAME_LABEL: "canon", "app": "web"}, "", "canon"),
        ({"app.kubernetes.io/name": "k8s", "app": "web"}, "", "k8s"),
        ({"app": "web"}, "deploy", "web"),
        ({}, "deploy", "deploy"),
        ({}, "", "pod-1"),
    ],
)
def test_workload_name_precedence(labels: dict[str, str], workload: str, expected: str) -> None:
    pod = PodIdentity(name="pod-1", labels=labels, workload=workload)
    assert pod.workload_name == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a=" + "[" * 100_000, "[" * 100_000),  # json.loads would recurse past the limit
        ('a="x" y', 'x" y'),  # not Go's quoting: kept as text
        ("a=true", "true"),  # not a JSON string: not turned into Python's True
    ],
)
def test_downward_values_that_are_not_go_quoted_are_kept_as_text(line: str, expected: str) -> None:
    assert bootstrap.parse_downward_file(line) == {"a": expected}


def test_labels_that_are_not_utf8_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "labels").write_bytes(b'app="web"\nbad="\xff\xfe"\n')
    pod = bootstrap.read_pod_identity(ENV, tmp_path)
    assert (pod.node_id, pod.labels) == ("web-5d9f7-abcde.shop", {})
    assert "pod labels ignored: the file is not UTF-8" in caplog.text
    assert caplog.records[-1].path == str(tmp_path / "labels")


def test_bootstrap_command_survives_labels_that_are_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "labels").write_bytes(b'app="\xff"\n')
    assert _print_bootstrap(tmp_path) == 0
    assert json.loads(capsys.readouterr().out)["node"]["metadata"]["LABELS"] == {}


def test_missing_podinfo_is_not_an_error(tmp_path: Path) -> None:
    pod = bootstrap.read_pod_identity({}, tmp_path / "absent")
    assert (pod.node_id, pod.labels) == ("unknown.default", {})


def test_render_sets_identity_and_leaves_the_template_alone() -> None:
    template = bootstrap.packaged_template()
    before = json.dumps(template, sort_keys=True)
    pod = PodIdentity(name="web-0", namespace="shop", ip="10.0.0.5", labels={"app": "web"})
    config = bootstrap.render(template, pod)
    assert json.dumps(template, sort_keys=True) == before
    assert config["node"]["id"] == "web-0.shop"
    assert config["node"]["cluster"] == "web.shop"
    assert config["node"]["metadata"]["LABELS"] == {"app": "web"}
    assert config["stats_config"]["stats_tags"] == [
        {"tag_name": "mesh_workload", "fixed_value": "web"}
    ]


def _ports(config: object) -> set[int]:
    found: set[int] = set()
    if isinstance(config, dict):
        for key, value in config.items():
            if key in ("port_value", "destination_port") and isinstance(value, int):
                found.add(value)
            else:
                found |= _ports(value)
    elif isinstance(config, list):
        for item in config:
            found |= _ports(item)
    return found


def test_port_offset_moves_every_well_known_port() -> None:
    template = bootstrap.packaged_template()
    assert _ports(template) == set(mesh.RESERVED_PORTS) | {0}
    shifted = bootstrap.render(template, PodIdentity(), port_offset=1000)
    assert _ports(shifted) == {p + 1000 for p in mesh.RESERVED_PORTS} | {0}


def test_override_replaces_packaged(tmp_path: Path) -> None:
    custom = {"static_resources": {"clusters": []}, "node": {"id": "x"}}
    (tmp_path / "bootstrap.yaml").write_text(json.dumps(custom))
    assert bootstrap.load_template(tmp_path) == custom


@pytest.mark.parametrize("text", ["{unclosed: [", "just a string", "admin: {}", "[" * 5000])
def test_bad_override_is_refused_and_packaged_kept(
    tmp_path: Path, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bootstrap.yaml").write_text(text)
    assert bootstrap.load_template(tmp_path) == bootstrap.packaged_template()
    assert "bootstrap override refused" in caplog.text


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("static_resources: 5", "static_resources must be a mapping, not 5"),
        ("static_resources: {}\nnode: 5", "node must be a mapping, not 5"),
        ("static_resources: {}\nnode: {metadata: [a]}", "node.metadata must be a mapping"),
        ("static_resources: {}\nstats_config: null", "stats_config must be a mapping, not None"),
        ("static_resources: {}\nstats_config: {stats_tags: {}}", "stats_tags must be a list"),
        ("static_resources: {}\nstats_config: {stats_tags: [x]}", r"stats_tags[0] must be a"),
        ("static_resources: {}\nx: 2001-01-01", "cannot be written as JSON: Object of type date"),
        ("static_resources: {}\nx: .nan", "cannot be written as JSON: Out of range float"),
        ("static_resources: {}\nx: &a [*a]", "cannot be written as JSON: Circular reference"),
    ],
)
def test_override_of_the_wrong_shape_is_refused_and_packaged_kept(
    tmp_path: Path, text: str, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    """render() and write_rendered() could not use these: refused at load, with the reason."""
    (tmp_path / "bootstrap.yaml").write_text(text)
    assert bootstrap.load_template(tmp_path) == bootstrap.packaged_template()
    (record,) = [r for r in caplog.records if r.msg.startswith("bootstrap override refused")]
    assert error in record.error


def test_override_that_is_not_utf8_is_refused_and_packaged_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bootstrap.yaml").write_bytes(b"\xff\xfestatic_resources: {}\n")
    assert bootstrap.load_template(tmp_path) == bootstrap.packaged_template()
    assert "bootstrap override refused" in caplog.text


@pytest.mark.parametrize("text", [b"\xff\xfe", b"static_resources: {}\nx: 2001-01-01\n"])
def test_bootstrap_command_prints_the_packaged_bootstrap_for_a_bad_override(
    tmp_path: Path, text: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bootstrap.yaml").write_bytes(text)
    assert _print_bootstrap(tmp_path) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["static_resources"] == bootstrap.packaged_template()["static_resources"]


def test_write_rendered_is_json_with_a_json_name(tmp_path: Path) -> None:
    path = bootstrap.write_rendered({"a": 1}, tmp_path / "proxy")
    assert path.suffix == ".json"  # Envoy chooses its parser by the extension
    assert json.loads(path.read_text()) == {"a": 1}


def test_bootstrap_command_prints_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bootstrap", "--pod-name", "p", "--namespace", "ns", "--podinfo-dir", str(tmp_path),
            "--override-dir", str(tmp_path)]  # fmt: skip
    code = cli.main([*argv, "--format", "json"])
    assert code == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["node"]["id"] == "p.ns"
    assert cli.main(argv) == 0  # YAML by default
    as_yaml = capsys.readouterr().out
    assert not as_yaml.startswith("{")  # JSON would load as YAML too
    assert yaml.safe_load(as_yaml) == as_json


def _agent_cluster_port(config: dict[str, object]) -> int:
    clusters = config["static_resources"]["clusters"]  # type: ignore[index]
    (agent,) = [c for c in clusters if c["name"] == "agent"]
    (endpoint,) = agent["load_assignment"]["endpoints"][0]["lb_endpoints"]
    port: int = endpoint["endpoint"]["address"]["socket_address"]["port_value"]
    return port


def _health_route_cluster(config: dict[str, object]) -> str:
    listeners = config["static_resources"]["listeners"]  # type: ignore[index]
    (health,) = [
        listener
        for listener in listeners
        if listener["address"]["socket_address"]["port_value"] % 1000 == mesh.HEALTH_PORT % 1000
    ]
    manager = health["filter_chains"][0]["filters"][0]["typed_config"]
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    (ready,) = [r for r in routes if r["match"] == {"path": "/healthz/ready"}]
    cluster: str = ready["route"]["cluster"]
    return cluster


@pytest.mark.parametrize(("offset", "status_port"), [(0, 15555), (1000, 15555), (0, 8081)])
def test_status_port_is_rendered_per_pod(offset: int, status_port: int) -> None:
    """15021's /healthz/ready goes to the agent: its cluster must follow the pod's status port;
    nothing else moves, and no 15020 is left behind."""
    template = bootstrap.packaged_template()
    config = bootstrap.render(template, PodIdentity(), offset, status_port)
    assert _health_route_cluster(config) == "agent"
    assert _agent_cluster_port(config) == status_port + offset
    envoy_ports = {p + offset for p in mesh.RESERVED_PORTS - {mesh.STATUS_PORT}}
    assert _ports(config) == envoy_ports | {status_port + offset, 0}
    assert _agent_cluster_port(template) == mesh.STATUS_PORT  # the template is left alone


def test_status_port_follows_in_an_override(tmp_path: Path) -> None:
    custom = bootstrap.packaged_template()
    custom["static_resources"]["listeners"] = []
    (tmp_path / "bootstrap.yaml").write_text(json.dumps(custom))
    config = bootstrap.render(bootstrap.load_template(tmp_path), PodIdentity(), status_port=16021)
    assert _agent_cluster_port(config) == 16021


def _print_bootstrap(tmp_path: Path, *flags: str) -> int:
    argv = ["bootstrap", "--podinfo-dir", str(tmp_path), "--override-dir", str(tmp_path)]
    return cli.main([*argv, "--format", "json", *flags])


def test_bootstrap_command_takes_the_status_port_from_proxy_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(mesh.PROXY_CONFIG_ENV, '{"statusPort":15555}')
    assert _print_bootstrap(tmp_path) == 0
    assert _agent_cluster_port(json.loads(capsys.readouterr().out)) == 15555
    assert _print_bootstrap(tmp_path, "--status-port", "16000") == 0
    assert _agent_cluster_port(json.loads(capsys.readouterr().out)) == 16000
    monkeypatch.setenv(mesh.PROXY_CONFIG_ENV, '{"statusPort":15000}')
    assert _print_bootstrap(tmp_path) == 2
    assert "statusPort 15000 is reserved for Envoy" in capsys.readouterr().err
