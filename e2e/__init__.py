"""End-to-end tests against a real kube-apiserver built from source (see e2e/README.md)."""
