"""The HTTPS admission server: FastAPI app, hot-reloading TLS, and the composition root."""
