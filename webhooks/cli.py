"""The `mesh-webhooks` command line: argparse only, each subcommand lives with its component.

Every subcommand module exposes `configure(parser)` and `run(args) -> exit code`. They are imported
lazily so that, say, the sidecar agent never pays for importing FastAPI.
"""

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, Protocol, cast

import orjson

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("webhooks.server.command", "run the admission webhook server"),
    "inject": ("webhooks.inject.command", "inject the sidecar into Kubernetes YAML, offline"),
    "validate": ("webhooks.validate.command", "validate mesh resources in YAML, offline"),
    "agent": ("webhooks.proxy.agent_command", "run the sidecar proxy agent (Envoy supervisor)"),
    "iptables": ("webhooks.proxy.iptables_command", "set up traffic capture (init container)"),
    "bootstrap": ("webhooks.proxy.bootstrap_command", "print the rendered Envoy bootstrap"),
    "certs": ("webhooks.certs.command", "issue and check webhook certificates"),
}


class Subcommand(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line; `extra=` fields of a record become keys. The server writes a
    line for every admission request, so this is kept cheap: orjson, and the date and time
    text made once a second."""

    _SKIPPED = frozenset(vars(logging.makeLogRecord({}))) | {"color_message", "message"}

    def __init__(self) -> None:
        super().__init__()
        self._second, self._second_text = -1, ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # the handler's lock serialises calls
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        entry: dict[str, Any] = {
            "time": f"{self._second_text}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        skipped = self._SKIPPED
        entry.update({k: v for k, v in vars(record).items() if k not in skipped})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits
            return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Records need none of these (the lines do not show them), and each costs time per line.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def _load(name: str) -> Subcommand:
    return cast(Subcommand, importlib.import_module(SUBCOMMANDS[name][0]))


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mesh-webhooks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:  # only the chosen component is imported
            _load(name).configure(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(arguments).parse_args(arguments)
    configure_logging(args.log_level)
    return _load(args.command).run(args)
