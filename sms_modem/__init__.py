"""SMS channel: the GSM modem adapter (python-gammu), pure decoding/encoding, and the modem daemon."""
