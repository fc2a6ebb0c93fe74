"""Who may do what: brand staff accounts, their roles (roles.py) and console sessions; API keys' scopes
(scopes.py); one permissions vocabulary for both, checked by every brand-API endpoint."""
