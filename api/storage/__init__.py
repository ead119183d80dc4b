"""Blob storage for ciphertext: local data directory or an S3-compatible store."""
