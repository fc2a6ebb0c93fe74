"""The brand console at /console: sign-in, the team, the dashboard, in English and Russian."""
