"""The smsmode-compatible HTTP API (`/http/1.6/*.do`)."""
