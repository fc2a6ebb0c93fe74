"""The process and its data: settings, database sessions, job queues, secrets, row locks,
text and CSV hygiene. Nothing here knows about HTTP or about a concern."""
