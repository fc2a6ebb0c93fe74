"""People and access: brand staff accounts, their roles and permissions, console sessions."""
