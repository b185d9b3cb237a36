"""SMPP carrier connector: pure helpers for coding, concatenation, receipts, message IDs and errors."""
