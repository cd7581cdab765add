"""Reusable widgets (no engine work of their own)."""
