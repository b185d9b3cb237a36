"""The engine: long-running tasks that move messages from the queue to connectors and receipts back.

May import `store`, `connectors` (their interface), `domain`, `batching`, `logs` and `metrics`; only the composition
root (`martinet.app`) imports it. Its settings come in as plain values, built by the composition root.
"""
