"""mesh-webhooks: Istio-compatible sidecar injection and mesh config validation webhooks."""

__version__ = "0.1.0"
