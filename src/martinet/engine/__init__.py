"""The engine: long-running tasks that move messages from the queue to connectors and receipts back."""
