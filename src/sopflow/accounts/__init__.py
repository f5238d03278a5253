"""Console accounts: users and roles, passwords, login sessions, login rate limiting and the audit log."""
