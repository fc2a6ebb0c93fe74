"""Loyalty: what a transaction does to a card (rules, ledger, tiers, expiry), referrals,
and the card's numbers and codes."""
