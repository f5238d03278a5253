"""HTTP API routers: native ingest (``/api/v1/events``) and PostHog-compatible capture."""
