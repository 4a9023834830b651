"""The JSON Patch (RFC 6902: add, remove and replace only) that turns the request's pod into the
injected pod.

Injection makes its changes through a `PodEdit`, which applies each one to the injected pod and
records the operation that makes it, so the pod and the patch come from one record. Walking
both pods afterwards to diff them costs more than the whole injection: the request pod was just
parsed and is cold in the cache. `make_patch` diffs anyway where there is no record, for a
re-injection (see pod.inject_pod).

`jsonpatch.make_patch` also emits move and copy; the apiserver's json-patch library applies
those, but they make patches hard to read and review, so this module diffs by itself. Lists are
diffed around their common prefix and suffix, so that inserting containers or volumes at either
end, or in the middle, is a single `add` rather than a replace of every following element.
"""

from collections.abc import Sequence
from typing import Any

Operation = dict[str, Any]  # {"op": "add" | "remove" | "replace", "path": ..., "value": ...}
LABELS = "/metadata/labels"  # JSON Pointers of the pod's maps that injection changes
ANNOTATIONS = "/metadata/annotations"
_MISSING = object()


_escaped: dict[str, str] = {}  # pod keys repeat from request to request: a plain dict is
# cheaper to consult than an lru_cache call; bounded by clearing it when it grows too big.


def escape(key: str) -> str:
    """An RFC 6901 reference token."""
    token = _escaped.get(key)
    if token is None:
        if len(_escaped) >= 4096:
            _escaped.clear()
        token = _escaped[key] = key.replace("~", "~0").replace("/", "~1")
    return token


def _same(a: Any, b: Any) -> bool:
    # JSON distinguishes true from 1 and 1 from 1.0; Python's == does not. The type check covers
    # the value itself; inside equal list elements the difference stays hidden, which injection
    # never produces (it does not retype values) and a deep strict compare would double the cost.
    # Identity first: the injected pod shares every subtree injection left alone (pod._owned).
    return a is b or (type(a) is type(b) and a == b)


def _diff(old: Any, new: Any, path: str, ops: list[Operation]) -> None:
    if old is new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        _diff_objects(old, new, path, ops)  # walking the objects is the comparison
    elif isinstance(old, list) and isinstance(new, list):
        _diff_lists(old, new, path, ops)
    elif type(old) is not type(new) or old != new:
        ops.append({"op": "replace", "path": path, "value": new})


def _diff_objects(
    old: dict[str, Any], new: dict[str, Any], path: str, ops: list[Operation]
) -> None:
    if not old.keys() <= new.keys():
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{path}/{escape(key)}"})
    # This loop runs for every key of every changed object: it is kept tight (escape inlined),
    # and equal or shared values cost no path string.
    escaped = _escaped
    for key, value in new.items():
        before = old.get(key, _MISSING)
        if before is value:
            continue
        kind = type(value)
        if kind is type(before) and kind is not dict and kind is not list and before == value:
            continue  # an equal scalar (a missing key is an `object`, never a JSON type)
        child = f"{path}/{escaped.get(key) or escape(key)}"
        if kind is not type(before):
            if before is _MISSING:
                ops.append({"op": "add", "path": child, "value": value})
            else:
                _diff(before, value, child, ops)  # a new type, or subclasses of dict or list
        elif kind is dict:
            _diff_objects(before, value, child, ops)
        elif kind is list:
            _diff_lists(before, value, child, ops)
        else:
            ops.append({"op": "replace", "path": child, "value": value})


def _diff_lists(old: list[Any], new: list[Any], path: str, ops: list[Operation]) -> None:
    shortest = min(len(old), len(new))
    prefix = 0
    while prefix < shortest and _same(old[prefix], new[prefix]):
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and _same(old[-1 - suffix], new[-1 - suffix]):
        suffix += 1
    old_middle, new_middle = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    paired = min(len(old_middle), len(new_middle))
    for index in range(paired):
        _diff(old_middle[index], new_middle[index], f"{path}/{prefix + index}", ops)
    # Extra old elements go from the highest index down, so earlier indices stay valid.
    for index in range(prefix + len(old_middle) - 1, prefix + paired - 1, -1):
        ops.append({"op": "remove", "path": f"{path}/{index}"})
    for index in range(paired, len(new_middle)):
        ops.append({"op": "add", "path": f"{path}/{prefix + index}", "value": new_middle[index]})


def make_patch(original: Any, changed: Any) -> list[Operation]:
    """Operations that turn `original` into `changed`. Values are shared with `changed`, not
    copied: serialise the patch before mutating `changed` again."""
    ops: list[Operation] = []
    _diff(original, changed, "", ops)
    return ops


class PodEdit:
    """Changes to a pod, applied and recorded together.

    Each method changes a dict of the pod in place and appends the operation that makes the same
    change to `operations`, in order, so the patch applied to the pod as it was gives the pod as
    it is. `pointer` is the JSON Pointer of the dict changed (of `parent`). The caller owns what it
    changes (injection works on a copy of the request), and values handed over are shared with
    the patch: they must not change afterwards. The exception is a map that `mapping` creates:
    the one `add` that creates it holds it by reference, so what goes into it later is part of
    that operation, as a diff would have it, rather than operations of its own.
    """

    def __init__(self) -> None:
        self.operations: list[Operation] = []
        self._created: set[int] = set()  # ids of the maps `mapping` created (alive in the pod)

    def put(self, parent: dict[str, Any], pointer: str, key: str, value: Any) -> None:
        """parent[key] = value. Setting a key to the value it has records nothing."""
        before = parent.get(key, _MISSING)
        if before is value or (type(before) is type(value) and before == value):
            return
        parent[key] = value
        if id(parent) not in self._created:
            op = "add" if before is _MISSING else "replace"
            path = f"{pointer}/{_escaped.get(key) or escape(key)}"
            self.operations.append({"op": op, "path": path, "value": value})

    def delete(self, parent: dict[str, Any], pointer: str, key: str) -> None:
        del parent[key]
        if id(parent) not in self._created:
            self.operations.append({"op": "remove", "path": f"{pointer}/{escape(key)}"})

    def mapping(self, parent: dict[str, Any], pointer: str, key: str) -> dict[str, Any]:
        """parent[key], created empty when it is absent or null."""
        value = parent.get(key)
        if value is None:
            value = parent[key] = {}
            if id(parent) not in self._created:
                path = f"{pointer}/{escape(key)}"
                self.operations.append({"op": "add", "path": path, "value": value})
            self._created.add(id(value))
        if not isinstance(value, dict):
            raise TypeError(f"{pointer}/{escape(key)} is not an object")
        return value

    def insert(
        self,
        parent: dict[str, Any],
        pointer: str,
        key: str,
        index: int | None,
        items: Sequence[Any],
    ) -> None:
        """Insert `items` into the list parent[key] at `index` (None: at the end). The list is
        replaced by a new one (it may be shared with the request), or created."""
        if not items:
            return
        current, path = parent.get(key) or [], f"{pointer}/{escape(key)}"
        if not isinstance(current, list):
            raise TypeError(f"{path} is not an array")
        at = len(current) if index is None else index
        parent[key] = [*current[:at], *items, *current[at:]]
        if id(parent) in self._created:
            return
        if not current:  # absent, null or empty: one operation for the whole list
            self.operations.append({"op": "add", "path": path, "value": list(items)})
            return
        for offset, item in enumerate(items, start=at):
            self.operations.append({"op": "add", "path": f"{path}/{offset}", "value": item})
