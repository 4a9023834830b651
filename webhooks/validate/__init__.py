"""Validation of Istio mesh resources: the /validate webhook, the offline CLI and the CRDs."""
