"""The HTTP doors. Each owns parsing, authentication of its dialect and the format of its answers; nothing else."""
