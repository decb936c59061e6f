"""Stored reference outputs: see regenerate.py."""
