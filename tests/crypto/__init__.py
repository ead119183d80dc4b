"""Tests for the crypto package (no database needed)."""
