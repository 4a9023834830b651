"""Sidecar injection: the /inject webhook core and the offline `inject` command."""
