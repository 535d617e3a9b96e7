"""Widgets of the console's own."""
