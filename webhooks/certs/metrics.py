"""Certificate metrics: expiry timestamps, rotations, caBundle patches and self-test results."""

from prometheus_client import Counter, Gauge

CA_NOT_AFTER = Gauge(
    "webhook_ca_cert_expiry_timestamp_seconds",
    "NotAfter of the CA certificate this replica signs with, as a Unix timestamp.",
)
CA_CHANGES = Counter(
    "webhook_ca_changes_total",
    "CA certificates taken into use, by how: created, adopted, renewed, replaced_invalid.",
    ["reason"],
)
SERVING_ROTATIONS = Counter(
    "webhook_serving_cert_rotations_total",
    "Serving certificates signed by this replica, by why: initial, expiring, ca_changed.",
    ["reason"],
)
CABUNDLE_PATCHES = Counter(
    "webhook_cabundle_patches_total",
    "Patches of webhook configurations (caBundle and failurePolicy), by configuration and result.",
    ["configuration", "result"],
)
CABUNDLE_IN_SYNC = Gauge(
    "webhook_cabundle_in_sync",
    "1 when every webhook of the configuration trusts this replica's CA, else 0.",
    ["configuration"],
)
SELF_TEST_RUNS = Counter(
    "webhook_self_test_runs_total",
    "Dry-run self-tests before failurePolicy Fail, by outcome: passed, failed, error.",
    ["outcome"],
)
FAIL_CLOSED = Gauge(
    "webhook_fail_closed",
    "1 once the self-test passed and failurePolicy Fail is wanted on the validating webhooks.",
)
