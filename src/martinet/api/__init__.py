"""The HTTP doors. Each owns parsing, authentication of its dialect and the format of its answers; nothing else.

The top of the flow doors → services → store → engine → connectors: a door may import `services`, `domain` and
`clock`/`metrics`, and reads of the store where no rule applies; nothing but the composition root (`martinet.app`)
imports a door, and no door imports another.
"""
