"""Passcast's pure wallet-pass library: pass.json, images, manifest, signature, card codes.

Nothing here knows about Flask or a database, so it can be used (and tested) on its own;
the service depends on it, never the other way round.
"""
