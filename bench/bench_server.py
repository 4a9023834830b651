"""The admission server's own floor: a do-nothing endpoint over TLS, for reference figures."""

import json

from bench import harness

REVIEW = json.dumps(
    {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "bench", "operation": "CREATE", "object": {"metadata": {"name": "x"}}},
    }
).encode()

if __name__ == "__main__":
    with harness.bench_server() as server:
        for connections in (1, 8):
            print(f"-- {connections} connection(s)")
            result = harness.run_wrk(
                server.port, "/noop", REVIEW, seconds=4, connections=connections
            )
            print(result.line())
