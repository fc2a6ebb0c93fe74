"""NPS surveys: the survey link on the pass's back, the answer page, and its job."""
