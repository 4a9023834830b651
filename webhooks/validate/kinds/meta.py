"""What the semantic rules know about the object besides its spec."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Meta:
    kind: str
    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, kind: str, metadata: dict[str, Any], default_namespace: str) -> "Meta":
        labels = metadata.get("labels")
        annotations = metadata.get("annotations")
        return cls(
            kind=kind,
            name=str(metadata.get("name") or metadata.get("generateName") or ""),
            namespace=str(metadata.get("namespace") or default_namespace),
            labels=labels if isinstance(labels, dict) else {},
            annotations=annotations if isinstance(annotations, dict) else {},
        )
