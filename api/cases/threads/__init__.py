"""Threads: each submitter's own part of a case (the submissions and the messages with that
submitter) and the keys that open them."""
