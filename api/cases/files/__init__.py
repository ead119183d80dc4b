"""A case's files: the attachment rows, streamed downloads, and metadata-stripped clean
copies made in a capped child process."""
