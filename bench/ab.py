"""Two checkouts of the server side by side: which one answers /inject (or /validate) cheaper?

A change worth a few µs is smaller than the noise between two runs of bench_inject, which are
minutes apart on a shared machine. Here both servers run at once, and their rounds interleave
(A /noop, A path, B /noop, B path, again), so that noise hits both alike. Reported per checkout:
the cost ratio of the best rounds, every round's ratio, and the time inside each server from its
own histograms (the figures to trust for small changes).

Run: .venv/bin/python -m bench.ab OLD_CHECKOUT NEW_CHECKOUT [--path /validate] [--rounds 4]
(e.g. OLD_CHECKOUT from `git worktree add /tmp/old HEAD~1`). Both run on this venv's packages.
"""

import argparse
import contextlib
import json
from collections.abc import Callable
from pathlib import Path

from bench import bench_inject, bench_validate, harness

SUBJECTS: dict[str, tuple[Callable[[], bytes], str | None]] = {
    # path: (the review posted, as bench_inject and bench_validate post it; the handler's metric)
    "/inject": (
        lambda: json.dumps(bench_inject.recorded_review()).encode(),
        bench_inject.TIME_METRIC,
    ),
    "/validate": (lambda: bench_validate.review(bench_validate.virtual_service(3)), None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", type=Path, nargs=2, metavar="CHECKOUT")
    parser.add_argument("--path", choices=sorted(SUBJECTS), default="/inject")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    make_review, handler_metric = SUBJECTS[args.path]
    body = make_review()
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(harness.bench_server(c)) for c in args.checkouts]
        for server in servers:  # warm-up
            for path in ("/noop", args.path):
                harness.run_wrk(server.port, path, body, seconds=1)
        before = [server.totals() for server in servers]
        rounds: list[list[tuple[float, float]]] = [[] for _ in servers]
        for _ in range(args.rounds):
            for server, results in zip(servers, rounds, strict=True):
                floor = harness.run_wrk(server.port, "/noop", body, args.seconds)
                subject = harness.run_wrk(server.port, args.path, body, args.seconds)
                results.append((floor.requests_per_second, subject.requests_per_second))
        after = [server.totals() for server in servers]
    for checkout, results, old, new in zip(args.checkouts, rounds, before, after, strict=True):
        best = max(f for f, _ in results) / max(s for _, s in results)
        each = ", ".join(f"{f / s:.2f}" for f, s in results)
        inside = [
            harness.mean_microseconds(old, new, (harness.ENDPOINT_TIME, p))
            for p in ("/noop", args.path)
        ]
        line = f"{checkout}: ratio {best:.2f}x (rounds {each}); inside the server /noop "
        line += f"{inside[0]:.0f} us, {args.path} {inside[1]:.0f} us"
        if handler_metric:
            handler = harness.mean_microseconds(old, new, (handler_metric, ""))
            line += f", of which its handler {handler:.1f} us"
        print(line)


if __name__ == "__main__":
    main()
