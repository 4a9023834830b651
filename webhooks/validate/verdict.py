"""Errors and warnings of one validation, rendered the way Istio renders them."""

from collections.abc import Iterable
from dataclasses import dataclass, field


def located(message: str, path: str | None) -> str:
    """Istio's text, followed by the field path when we know it (users asked for it)."""
    return f"{message} ({path})" if path else message


def join_errors(errors: Iterable[str]) -> str:
    """go-multierror's list format: one error is bare, several are a bulleted count."""
    items = list(errors)
    if len(items) == 1:
        return items[0]
    lines = "".join(f"\n\t* {item}" for item in items)
    return f"{len(items)} errors occurred:{lines}\n\n"


@dataclass(slots=True)
class Verdict:
    """What one validator found: errors reject the object, warnings are shown when it passes."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, message: str, path: str | None = None) -> None:
        self.errors.append(located(message, path))

    def warn(self, message: str, path: str | None = None) -> None:
        self.warnings.append(located(message, path))

    def merge(self, other: "Verdict") -> None:
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
