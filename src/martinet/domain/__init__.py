"""Pure rules of SMS: text, recipients, prices, statuses. No I/O, no framework, nothing else of the project."""
