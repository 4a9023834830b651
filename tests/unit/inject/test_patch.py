from typing import Any

import jsonpatch
from hypothesis import given, strategies as st

from webhooks.inject.patch import escape, make_patch

keys = st.sampled_from(["a", "b", "c", "x/y", "t~1", ""])
scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "s", "1"])
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)


def _strictly_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_strictly_equal, a, b))
    return bool(a == b)


@given(json_values, json_values)
def test_the_patch_turns_the_original_into_the_changed_value(old: Any, new: Any) -> None:
    operations = make_patch(old, new)
    assert {operation["op"] for operation in operations} <= {"add", "remove", "replace"}
    result = jsonpatch.apply_patch(old, operations)
    if _strictly_equal_deep_types(old, new):
        assert _strictly_equal(result, new)
    else:
        assert result == new


def _strictly_equal_deep_types(old: Any, new: Any) -> bool:
    """Python's == hides true-vs-1 differences inside equal containers; skip those inputs."""
    return not (old == new and not _strictly_equal(old, new))


@given(st.lists(json_values, max_size=6), st.lists(json_values, max_size=3), st.integers(0, 6))
def test_an_insertion_into_a_list_is_one_add_per_element(
    items: list[Any], inserted: list[Any], at: int
) -> None:
    at = min(at, len(items))
    changed = [*items[:at], *inserted, *items[at:]]
    operations = make_patch({"l": items}, {"l": changed})
    assert jsonpatch.apply_patch({"l": items}, operations) == {"l": changed}
    assert len(operations) == len(inserted)
    assert {operation["op"] for operation in operations} <= {"add"}


def test_appending_containers_is_a_single_add() -> None:
    old = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    new = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "proxy"}]}}
    assert make_patch(old, new) == [
        {"op": "add", "path": "/spec/containers/2", "value": {"name": "proxy"}}
    ]


def test_prepending_is_a_single_add_too() -> None:
    old = {"l": [{"name": "a"}, {"name": "b"}]}
    new = {"l": [{"name": "p"}, {"name": "a"}, {"name": "b"}]}
    assert make_patch(old, new) == [{"op": "add", "path": "/l/0", "value": {"name": "p"}}]


def test_keys_are_escaped() -> None:
    assert escape("sidecar.istio.io/status") == "sidecar.istio.io~1status"
    assert escape("a~b") == "a~0b"
    assert make_patch({}, {"a/b": 1}) == [{"op": "add", "path": "/a~1b", "value": 1}]


def test_a_changed_scalar_type_is_replaced() -> None:
    assert make_patch({"a": 1}, {"a": "1"}) == [{"op": "replace", "path": "/a", "value": "1"}]
    assert make_patch(1, True) == [{"op": "replace", "path": "", "value": True}]
