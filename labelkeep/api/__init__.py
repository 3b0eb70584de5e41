"""Shared REST plumbing for every domain app: errors, parsers, pages, schema helpers."""
