"""Referral drafts for the UN Working Groups, built from a case with consent enforced, as
JSON or as a Markdown document."""
