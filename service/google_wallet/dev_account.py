"""A development service-account key file shaped like Google's, for local Google Wallet work.

Used when GOOGLE_SERVICE_ACCOUNT_FILE is unset (service/google_wallet/sync.py) and by the demo
command; it lives here, with Google Wallet, so that sync never imports the demo (the top layer).
"""

from __future__ import annotations

import json
import secrets as pysecrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def ensure_google_service_account(path: Path) -> Path:
    """A dev service-account key file shaped like Google's, for local Google Wallet work."""
    if path.exists():
        return path
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {
        "type": "service_account",
        "project_id": "passcast-dev",
        "private_key_id": pysecrets.token_hex(20),
        "private_key": pem,
        "client_email": "passcast-dev@passcast-dev.iam.gserviceaccount.com",
        "client_id": str(pysecrets.randbelow(10**20)),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)
    return path
