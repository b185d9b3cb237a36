"""Text to speech for voice messages: a synthesiser interface, espeak-ng behind it, G.711 for the telephone.

Imports nothing of the project.
"""
