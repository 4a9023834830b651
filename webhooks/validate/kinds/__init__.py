"""Istio's semantic rules, one module per kind; each exposes `validate(spec, meta) -> Verdict`."""
