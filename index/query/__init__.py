"""Answering a question from an index: search, evidence, conversation, merged answers."""
