"""Telephony adapter: Asterisk AMI connector, pure frame parser and call-event translator."""
