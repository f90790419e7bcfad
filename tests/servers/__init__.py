"""Servers the tests start themselves, on 127.0.0.1 with data in a temporary folder."""
