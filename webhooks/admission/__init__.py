"""The AdmissionReview envelope shared by every webhook: models and response helpers."""
