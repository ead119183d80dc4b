"""Staff accounts: passwords, two-factor login, sessions, roles and the principals services see.

Which cases a principal may see is the cases feature's (api.cases.access.scoping)."""
