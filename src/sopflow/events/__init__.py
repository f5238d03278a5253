"""Events: the canonical schema, the ways in (HTTP, files), identity, the durable store and exports."""
