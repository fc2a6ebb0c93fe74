"""Who may do what: the permissions vocabulary shared by API keys (their scopes, here) and staff
accounts (their roles, service/access/roles.py), and the check every brand-API endpoint makes."""
