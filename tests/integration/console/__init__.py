"""Integration tests of the operator console and administration views."""
