"""What the console's analytics API and pages share: the cached engine, the query models, the playbook look-up."""
