from typing import Any

import pytest
from hypothesis import given, strategies as st

from tests.unit.inject.factories import pod
from webhooks.inject.config import InjectConfig, LabelSelector
from webhooks.inject.decision import Reason, decide

ENABLED, DISABLED = InjectConfig(policy="enabled"), InjectConfig(policy="disabled")
LABEL = ANNOTATION = "sidecar.istio.io/inject"

# (labels, annotations, policy config, expected inject, expected reason)
TABLE: list[tuple[dict[str, str], dict[str, str], InjectConfig, bool, Reason]] = [
    ({}, {}, ENABLED, True, Reason.POLICY_ENABLED),
    ({}, {}, DISABLED, False, Reason.POLICY_DISABLED),
    ({LABEL: "true"}, {}, DISABLED, True, Reason.LABEL_TRUE),
    ({LABEL: "false"}, {}, ENABLED, False, Reason.LABEL_FALSE),
    ({}, {ANNOTATION: "true"}, DISABLED, True, Reason.ANNOTATION_TRUE),
    ({}, {ANNOTATION: "false"}, ENABLED, False, Reason.ANNOTATION_FALSE),
    ({LABEL: "true"}, {ANNOTATION: "false"}, ENABLED, True, Reason.LABEL_TRUE),
    ({LABEL: "false"}, {ANNOTATION: "true"}, ENABLED, False, Reason.LABEL_FALSE),
    ({LABEL: "yes"}, {ANNOTATION: "false"}, ENABLED, True, Reason.POLICY_ENABLED),
    ({}, {ANNOTATION: "on"}, DISABLED, False, Reason.POLICY_DISABLED),
    ({}, {ANNOTATION: "yes"}, ENABLED, True, Reason.POLICY_ENABLED),
    ({LABEL: ""}, {}, DISABLED, False, Reason.POLICY_DISABLED),
]


@pytest.mark.parametrize(
    ("labels", "annotations", "config", "inject", "reason"),
    TABLE,
    ids=[f"{row[4].value}-{i}" for i, row in enumerate(TABLE)],
)
def test_decision_table(
    labels: dict[str, str],
    annotations: dict[str, str],
    config: InjectConfig,
    inject: bool,
    reason: Reason,
) -> None:
    decision = decide(pod(labels, annotations), "shop", config)
    assert (decision.inject, decision.reason) == (inject, reason)


def test_host_network_pods_are_skipped_before_anything_else() -> None:
    decision = decide(pod({LABEL: "true"}, hostNetwork=True), "shop", ENABLED)
    assert (decision.inject, decision.reason) == (False, Reason.HOST_NETWORK)


@pytest.mark.parametrize(
    "namespace", ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]
)
def test_ignored_namespaces_are_skipped_even_with_the_label(namespace: str) -> None:
    decision = decide(pod({LABEL: "true"}, namespace=namespace), namespace, ENABLED)
    assert decision.reason is Reason.IGNORED_NAMESPACE


def test_the_request_namespace_counts_when_the_pod_names_none() -> None:
    bare = pod()
    del bare["metadata"]["namespace"]
    assert decide(bare, "kube-system", ENABLED).reason is Reason.IGNORED_NAMESPACE


def _selector(document: dict[str, Any]) -> LabelSelector:
    return LabelSelector.model_validate(document)


def test_never_inject_selector_beats_always_inject_selector_and_the_policy() -> None:
    config = InjectConfig(
        never_inject_selector=(_selector({"matchLabels": {"tier": "batch"}}),),
        always_inject_selector=(_selector({"matchLabels": {"tier": "batch"}}),),
    )
    assert decide(pod({"tier": "batch"}), "shop", config).reason is Reason.NEVER_INJECT_SELECTOR


def test_always_inject_selector_beats_a_disabled_policy() -> None:
    expression = {"key": "team", "operator": "In", "values": ["a", "b"]}
    config = InjectConfig(
        policy="disabled", always_inject_selector=(_selector({"matchExpressions": [expression]}),)
    )
    assert decide(pod({"team": "b"}), "shop", config).reason is Reason.ALWAYS_INJECT_SELECTOR
    assert decide(pod({"team": "c"}), "shop", config).reason is Reason.POLICY_DISABLED


def test_the_label_beats_the_selectors() -> None:
    config = InjectConfig(never_inject_selector=(_selector({"matchLabels": {"app": "x"}}),))
    assert decide(pod({"app": "x", LABEL: "true"}), "shop", config).reason is Reason.LABEL_TRUE


def test_empty_selectors_match_nothing() -> None:
    config = InjectConfig(never_inject_selector=(_selector({}),))
    assert decide(pod({"app": "x"}), "shop", config).reason is Reason.POLICY_ENABLED


@pytest.mark.parametrize(
    ("operator", "values", "labels", "matches"),
    [
        ("In", ["a"], {"k": "a"}, True),
        ("In", ["a"], {}, False),
        ("NotIn", ["a"], {"k": "b"}, True),
        ("NotIn", ["a"], {}, True),
        ("NotIn", ["a"], {"k": "a"}, False),
        ("Exists", [], {"k": ""}, True),
        ("Exists", [], {}, False),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"k": "a"}, False),
    ],
)
def test_selector_operators(
    operator: str, values: list[str], labels: dict[str, str], matches: bool
) -> None:
    selector = _selector(
        {"matchExpressions": [{"key": "k", "operator": operator, "values": values}]}
    )
    assert selector.matches(labels) is matches


def test_the_deprecated_annotation_and_bad_values_carry_warnings() -> None:
    only_annotation = decide(pod({}, {ANNOTATION: "false"}), "shop", ENABLED)
    assert "deprecated" in only_annotation.warnings[0]
    bad_label = decide(pod({LABEL: "nope"}), "shop", DISABLED)
    assert bad_label.reason is Reason.POLICY_DISABLED
    assert "'nope'" in bad_label.warnings[0]
    assert decide(pod({LABEL: "false"}), "shop", ENABLED).warnings == ()


texts = st.text(max_size=12)
labels_strategy = st.dictionaries(
    st.sampled_from([LABEL, "app", "tier", "version"]), st.sampled_from(["true", "false", "x", ""])
)


@given(
    labels=labels_strategy,
    annotations=st.dictionaries(st.sampled_from([ANNOTATION, "other"]), texts),
    host_network=st.booleans(),
    namespace=st.sampled_from(["shop", "kube-system", "default"]),
    noise=st.dictionaries(st.sampled_from(["nodeName", "priority", "dnsPolicy"]), texts),
    policy=st.sampled_from(["enabled", "disabled"]),
)
def test_decisions_are_stable_and_depend_only_on_the_documented_inputs(
    labels: dict[str, str],
    annotations: dict[str, str],
    host_network: bool,
    namespace: str,
    noise: dict[str, str],
    policy: str,
) -> None:
    config = InjectConfig.model_validate({"policy": policy})
    plain = pod(labels, annotations, namespace, hostNetwork=host_network)
    noisy = pod(labels, annotations, namespace, hostNetwork=host_network, **noise)
    first = decide(plain, namespace, config)
    assert decide(plain, namespace, config) == first
    assert decide(noisy, namespace, config) == first
    skipped_reasons = {
        Reason.HOST_NETWORK, Reason.IGNORED_NAMESPACE, Reason.LABEL_FALSE,
        Reason.ANNOTATION_FALSE, Reason.NEVER_INJECT_SELECTOR, Reason.POLICY_DISABLED,
    }  # fmt: skip
    assert first.inject is (first.reason not in skipped_reasons)
