"""A SIP trunk simulator: the pretend telephone network of the demo and the tests (docs/voice.md)."""
