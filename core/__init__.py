"""Sistem 48 core: the ticket domain, services and storage, free of any framework or device library."""
