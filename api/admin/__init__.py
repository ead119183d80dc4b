"""Staff administration over HTTP that no single feature below it may own (the audit log)."""
