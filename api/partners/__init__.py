"""Partner organisations and their API keys."""
