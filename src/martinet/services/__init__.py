"""Use cases shared by every door: accept a send, authenticate, report, cancel, manage accounts."""
