"""Staff accounts: passwords, two-factor login, sessions, roles and access scoping."""
