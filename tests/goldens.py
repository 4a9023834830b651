"""Golden files: compare structured output with a committed file, or rewrite it on request.

Run `pytest --update-goldens` (or `make goldens`) to rewrite every golden a test touches.
"""

from pathlib import Path
from typing import Any

import yaml


def canonical_yaml(documents: list[Any]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=True, default_flow_style=False, width=100)


class Golden:
    def __init__(self, update: bool) -> None:
        self.update = update

    def check_text(self, actual: str, path: Path) -> None:
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual)
            return
        assert path.exists(), f"golden file {path} is missing; run pytest --update-goldens"
        expected = path.read_text()
        assert actual == expected, f"{path} differs from the output; run pytest --update-goldens"

    def check_yaml(self, documents: list[Any], path: Path) -> None:
        self.check_text(canonical_yaml(documents), path)
