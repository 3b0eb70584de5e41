"""Tests that start real external services (marked `integration`)."""
