"""Playbooks: the SOP as a versioned YAML document — model, loading with line-numbered errors, templates,
the estimate (测算) and rendering for the team."""
