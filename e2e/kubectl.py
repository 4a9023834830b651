"""Run the pinned kubectl against the e2e control plane."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.processes import child_environment

_DEFAULT_TIMEOUT_SECONDS = 60.0


class KubectlFailed(AssertionError):
    """kubectl exited non-zero where the caller required success; carries its output."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"`{' '.join(result.args)}` exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        self.result = result


@dataclass(frozen=True)
class Kubectl:
    """`kubectl(*args, input=...)` runs kubectl with the e2e kubeconfig and returns the result.

    The returncode is not checked unless `check=True`, so tests can assert on failures too.
    """

    binary: Path
    kubeconfig: Path
    cache_dir: Path  # private discovery cache: never read or write ~/.kube

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        check: bool = False,
        timeout: float = _DEFAULT_TIMEOUT_SECONDS,
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            str(self.binary),
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            *args,
        ]
        result = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_environment(),
            check=False,
        )
        if check and result.returncode != 0:
            raise KubectlFailed(result)
        return result

    def apply(
        self, manifest: str | Mapping[str, Any], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`kubectl apply` one manifest, YAML text or an object (sent as JSON)."""
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self("apply", "-f", "-", input=text, check=check)

    def get_json(self, *args: str) -> Any:
        """`kubectl get <args> -o json`, parsed; raises KubectlFailed if it fails."""
        return json.loads(self("get", *args, "--output=json", check=True).stdout)
