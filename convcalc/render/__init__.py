"""Renderers: pure functions of a Report. They format; they never compute numbers."""
FORMATS = ("table", "json", "csv", "markdown")
