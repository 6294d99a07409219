"""Printable documents: the weekly overview as a PDF with charts (matplotlib, DejaVu fonts for Cyrillic)."""
