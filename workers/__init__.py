"""Background workers: the job runner and the jobs Dokaz needs."""
