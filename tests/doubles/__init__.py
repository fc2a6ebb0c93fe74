"""Loopback doubles of the push vendors (APNs, FCM + Google OAuth, WalletPasses relay).

Each one is a real server on 127.0.0.1 speaking the vendor's wire protocol, so the
service's clients are exercised exactly as in production and only their endpoint
configuration differs. Nothing here patches the service's own code.
"""
