"""Analytics: the brand's figures (SQL), reports, roll-ups, their jobs, and the dashboard page."""
