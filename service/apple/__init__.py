"""Apple Wallet: the PassKit web service, the updatable-passes tag, stored signed .pkpass
files, the download link, and the signing certificates."""
