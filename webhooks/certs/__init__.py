"""Webhook certificates: issuing, storing the CA, rotating, and keeping caBundles right."""
