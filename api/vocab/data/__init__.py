"""Vocabulary data files, one ``<id>.json`` each; a package so they ship as package data."""
