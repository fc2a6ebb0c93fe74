"""Webhooks: events for a brand's own systems, their delivery jobs, and allowed addresses."""
