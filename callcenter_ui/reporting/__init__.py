"""Rendering of the meeting packs and planning reports: PDF (matplotlib), CSV for Excel, ODS for LibreOffice."""
