"""The brand's stores as the console shows them: the list, the form, and the map.

The rows themselves are the brand API's (service/api/stores.py); this package holds the
console page and the one thing the API does not: drawing the stores' positions.
"""
