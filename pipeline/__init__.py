"""Fake Rapper Helper: speech in, hip-hop-styled music out, words kept.

The library behind the DVC stages (`stages/`) and the user CLI (`python -m pipeline`).
"""
