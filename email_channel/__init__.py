"""The e-mail channel: mailbox intake over IMAP, replies over SMTP, and the parsing in between."""
