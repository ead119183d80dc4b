"""Controlled vocabularies (HURIDOCS codes where they exist) with labels in en, be, ru, uk."""
