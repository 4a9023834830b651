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
from collections.abc import Callable
from pathlib import Path

from bench import bench_inject, bench_validate, harness

SUBJECTS: dict[str, tuple[Callable[[], bytes], str | None]] = {
    # path: (the review bench_inject or bench_validate posts, the handler's histogram)
    "/inject": (bench_inject.typical_body, bench_inject.TIME_METRIC),
    "/validate": (bench_validate.typical_body, None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", type=Path, nargs=2, metavar="CHECKOUT")
    parser.add_argument("--path", choices=sorted(SUBJECTS), default="/inject")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    make_body, handler_metric = SUBJECTS[args.path]
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(harness.bench_server(c)) for c in args.checkouts]
        results = harness.measure(servers, args.path, make_body(), args.rounds, args.seconds)
    for checkout, measured in zip(args.checkouts, results, strict=True):
        each = ", ".join(
            f"{floor.requests_per_second / subject.requests_per_second:.2f}"
            for floor, subject in zip(measured.floor, measured.subject, strict=True)
        )
        print(
            f"{checkout}: ratio {measured.cost_ratio():.2f}x (rounds {each}); inside the server "
            + measured.inside(handler_metric)
        )


if __name__ == "__main__":
    main()
