"""The apiserver's label-selector semantics, as a test oracle written from the API docs: shared by
the FAKE kube-apiserver (objectSelector of validating webhooks) and the chart's routing tests."""

from typing import Any


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether `labels` meet `selector` (matchLabels and matchExpressions; None selects all)."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for requirement in selector.get("matchExpressions") or []:
        key, operator = requirement["key"], requirement["operator"]
        values = requirement.get("values") or []
        holds = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]  # an unknown operator is a KeyError: the apiserver refuses it too
        if not holds:
            return False
    return True
