"""What every request and page goes through: problem+json errors, body limits, client
addresses, rate limits, page headers, error pages, health endpoints; the shared
templates and static files (vendor/)."""
