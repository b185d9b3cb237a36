"""Pure rules of SMS: text, recipients, prices, statuses, backoff; and `valueclass`, the decorator of the value
objects of the packages above (not of `smpp`, `sip`, `voice`, which are libraries of their own, nor of the SDK).
No I/O, no framework, nothing else of the project.

The bottom of every arrow: imports nothing of the project; everything else may import it.
"""
