"""Vendor transport for pass-update pushes: APNs (HTTP/2), FCM HTTP v1 and the WalletPasses relay.

Nothing here knows about the database, Flask or jobs: each sender takes push tokens and a
pass type identifier and answers one `PushResult` per token, so the job code decides what
to delete, retry or report. Every vendor endpoint is a constructor argument, which is how
the test suite points the senders at loopback doubles speaking the real protocols.
"""
