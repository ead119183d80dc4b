"""Background jobs: the queue, its admin API and enqueueing after commit."""
