"""Use cases shared by every door: accept a send, authenticate, report, cancel, manage accounts.

May import `store`, `domain`, `config` and `logs`; never a door or the engine.
"""
