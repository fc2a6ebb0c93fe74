"""Configuration from the environment.

Every external endpoint is a setting so that production points at the vendors and the
test suite points at local doubles speaking the same protocols; nothing in the code
knows which one it is talking to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


def _sqlite_default() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'instance' / 'passcast.db'}"


def _normalise_database_url(url: str) -> str:
    """Make relative SQLite paths relative to the project, not to the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str(PROJECT_ROOT / url[len(prefix):])
    if url.startswith("postgres://"):  # Heroku-style URLs are not accepted by SQLAlchemy 2
        return "postgresql://" + url[len("postgres://"):]
    return url


def served_base_url(port: str | None) -> str:
    """PUBLIC_BASE_URL's default: the address `make run` serves on (PORT, default 8000), so
    that `PORT=8100 make run` hands out links to 8100 rather than to a port nobody listens on."""
    return f"http://127.0.0.1:{(port or '').strip() or '8000'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=_sqlite_default)
    redis_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    apns_endpoint: str = "https://api.push.apple.com"
    apns_ca_file: str | None = None
    apns_auth_key_file: str | None = None
    apns_key_id: str | None = None
    apns_team_id: str | None = None
    fcm_endpoint: str = "https://fcm.googleapis.com"
    walletpasses_push_url: str = "https://walletpasses.appspot.com/api/v1/push"
    walletpasses_api_key: str | None = None
    # The other Android wallet apps' relays (service/push/wallet_apps.py). Each needs a key
    # from its vendor, so none has a default: unset = their devices are marked unreachable.
    walletunion_push_url: str | None = None
    walletunion_api_key: str | None = field(default=None, repr=False)
    pass2u_push_url: str | None = None  # may contain {passTypeIdentifier}
    pass2u_api_key: str | None = field(default=None, repr=False)
    passworks_push_url: str | None = None
    passworks_api_key: str | None = field(default=None, repr=False)
    fcm_service_account_file: str | None = None
    google_wallet_api: str = "https://walletobjects.googleapis.com/walletobjects/v1"
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    # Google Wallet (service/google_wallet). No issuer id = dev mode: links are still made
    # (with DEV_GOOGLE_ISSUER_ID, marked "dev" in the API) but nothing is sent to Google.
    google_issuer_id: str | None = None
    google_service_account_file: str | None = None  # default: certs/dev/google-service-account.json
    google_callback_root_keys: str | None = None  # a file path or the JSON itself (Google's root keys)
    google_origins: tuple[str, ...] = ()
    google_timeout_seconds: float = 5.0
    certs_dir: Path = PROJECT_ROOT / "certs"
    instance_dir: Path = PROJECT_ROOT / "instance"
    dev_pass_type_identifier: str = "pass.dev.passcast.loyalty"
    dev_team_identifier: str = "PASSCASTDV"
    jobs_immediate: bool = False
    push_lease_seconds: float = 120.0
    # Campaigns (service/campaigns): cards per transaction, and how long a dead sender blocks a resume.
    campaign_batch: int = 1000
    campaign_lease_seconds: float = 300.0
    # Brand API: requests per API key (Flask-Limiter syntax, e.g. "600/minute;20/second").
    api_rate_limit: str = "600/minute"
    # Join form submissions per address: someone typing other people's phone numbers into
    # /join to see whether (and with which card) they are members is slowed to this pace.
    join_rate_limit: str = "10/minute;60/hour"
    # console sign-in, code and password-reset forms, per client address
    console_sign_in_rate_limit: str = "30/minute;300/hour"
    # POST /passkit/v1/log entries kept per client address (the endpoint has no credential).
    passkit_log_rate_limit: str = "300/hour"
    # Requests whose credential (API key, cashier token, till key) does not verify, per client
    # address: someone sending a victim's public key prefix with wrong secrets spends this, not the key's.
    auth_failure_rate_limit: str = "60/minute"
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For names the client; nobody else's is read.
    trusted_proxies: tuple[str, ...] = ()
    # Private keys of signing certificates are stored encrypted under this when set.
    signing_key_passphrase: str = field(default="", repr=False)
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: float = 30.0
    webhook_timeout_seconds: float = 10.0
    # Webhook URLs on loopback/private/link-local addresses are refused unless this is on (dev, tests).
    webhook_allow_private_urls: bool = False
    webhook_retention_days: int = 30
    # Request bodies (service/web/request_guard.py): the PassKit web service, JSON API calls and forms
    # get the small limit; brand images and certificates, and members-import CSVs, their own.
    body_limit_bytes: int = 64 * 1024
    upload_limit_bytes: int = 5 * 1024 * 1024
    import_limit_bytes: int = 100 * 1024 * 1024
    # Outgoing messages (service/notify): the join page's one-time links and codes. Unset host or
    # gateway = development: the message is written to the log instead of being sent.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = "Passcast <no-reply@localhost>"
    smtp_tls: str = "starttls"  # starttls | ssl | none
    smtp_timeout_seconds: float = 10.0
    smtp_ca_file: str | None = None  # extra CA trusted for SMTP_HOST's certificate
    sms_gateway_url: str | None = None
    sms_gateway_token: str = field(default="", repr=False)
    sms_from: str = "Passcast"
    # At most this many of one brand's deliveries in flight per worker process: a slow receiver
    # holds that many webhook threads, never all of them (service/webhooks/tasks.py).
    webhook_brand_concurrency: int = 2
    # The currency of a program created without one (ISO 4217); a program keeps its own after.
    default_currency: str = "EUR"
    # The console's store map (service/stores/console_page.py): a tile server such as
    # "https://tile.example/{z}/{x}/{y}.png" and the credit its licence asks for. Unset: no map
    # tiles, nothing is fetched from anywhere; the page draws the stores itself.
    map_tile_url: str | None = None
    map_tile_attribution: str = ""

    @property
    def web_service_url(self) -> str:
        return self.public_base_url.rstrip("/") + "/passkit"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        defaults = cls()

        def get(name: str, default: str | None) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else default

        certs_dir = get("CERTS_DIR", None)
        instance_dir = get("INSTANCE_DIR", None)
        return cls(
            database_url=_normalise_database_url(get("DATABASE_URL", defaults.database_url) or ""),
            redis_url=get("REDIS_URL", None),
            public_base_url=get("PUBLIC_BASE_URL", None) or served_base_url(get("PORT", None)),
            apns_endpoint=get("APNS_ENDPOINT", defaults.apns_endpoint) or "",
            apns_ca_file=get("APNS_CA_FILE", None),
            apns_auth_key_file=get("APNS_AUTH_KEY_FILE", None),
            apns_key_id=get("APNS_KEY_ID", None),
            apns_team_id=get("APNS_TEAM_ID", None),
            fcm_endpoint=get("FCM_ENDPOINT", defaults.fcm_endpoint) or "",
            walletpasses_push_url=get("WALLETPASSES_PUSH_URL", defaults.walletpasses_push_url) or "",
            walletpasses_api_key=get("WALLETPASSES_API_KEY", None),
            walletunion_push_url=get("WALLETUNION_PUSH_URL", None),
            walletunion_api_key=get("WALLETUNION_API_KEY", None),
            pass2u_push_url=get("PASS2U_PUSH_URL", None),
            pass2u_api_key=get("PASS2U_API_KEY", None),
            passworks_push_url=get("PASSWORKS_PUSH_URL", None),
            passworks_api_key=get("PASSWORKS_API_KEY", None),
            fcm_service_account_file=get("FCM_SERVICE_ACCOUNT_FILE", None),
            google_wallet_api=get("GOOGLE_WALLET_API", defaults.google_wallet_api) or "",
            google_token_uri=get("GOOGLE_TOKEN_URI", defaults.google_token_uri) or "",
            google_issuer_id=get("GOOGLE_ISSUER_ID", None),
            google_service_account_file=get("GOOGLE_SERVICE_ACCOUNT_FILE", None),
            google_callback_root_keys=get("GOOGLE_CALLBACK_ROOT_KEYS", None),
            google_origins=tuple(o.strip() for o in (get("GOOGLE_ORIGINS", "") or "").split(",") if o.strip()),
            google_timeout_seconds=float(get("GOOGLE_TIMEOUT_SECONDS", "5") or 5),
            certs_dir=Path(certs_dir) if certs_dir else defaults.certs_dir,
            instance_dir=Path(instance_dir) if instance_dir else defaults.instance_dir,
            dev_pass_type_identifier=get("DEV_PASS_TYPE_IDENTIFIER", defaults.dev_pass_type_identifier) or "",
            dev_team_identifier=get("DEV_TEAM_IDENTIFIER", defaults.dev_team_identifier) or "",
            jobs_immediate=get("JOBS_IMMEDIATE", "0") == "1",
            push_lease_seconds=float(get("PUSH_LEASE_SECONDS", "120") or 120),
            campaign_batch=int(get("CAMPAIGN_BATCH", "1000") or 1000),
            campaign_lease_seconds=float(get("CAMPAIGN_LEASE_SECONDS", "300") or 300),
            api_rate_limit=get("API_RATE_LIMIT", defaults.api_rate_limit) or defaults.api_rate_limit,
            join_rate_limit=get("JOIN_RATE_LIMIT", defaults.join_rate_limit) or defaults.join_rate_limit,
            console_sign_in_rate_limit=get("CONSOLE_SIGN_IN_RATE_LIMIT", defaults.console_sign_in_rate_limit)
            or defaults.console_sign_in_rate_limit,
            passkit_log_rate_limit=get("PASSKIT_LOG_RATE_LIMIT", defaults.passkit_log_rate_limit)
            or defaults.passkit_log_rate_limit,
            auth_failure_rate_limit=get("AUTH_FAILURE_RATE_LIMIT", defaults.auth_failure_rate_limit)
            or defaults.auth_failure_rate_limit,
            trusted_proxies=tuple(p.strip() for p in (get("TRUSTED_PROXIES", "") or "").split(",") if p.strip()),
            signing_key_passphrase=get("SIGNING_KEY_PASSPHRASE", "") or "",
            webhook_max_attempts=int(get("WEBHOOK_MAX_ATTEMPTS", "8") or 8),
            webhook_backoff_seconds=float(get("WEBHOOK_BACKOFF_SECONDS", "30") or 30),
            webhook_timeout_seconds=float(get("WEBHOOK_TIMEOUT_SECONDS", "10") or 10),
            webhook_allow_private_urls=get("WEBHOOK_ALLOW_PRIVATE_URLS", "0") == "1",
            webhook_retention_days=int(get("WEBHOOK_RETENTION_DAYS", "30") or 30),
            body_limit_bytes=int(get("BODY_LIMIT_BYTES", None) or defaults.body_limit_bytes),
            upload_limit_bytes=int(get("UPLOAD_LIMIT_BYTES", None) or defaults.upload_limit_bytes),
            import_limit_bytes=int(get("IMPORT_LIMIT_BYTES", None) or defaults.import_limit_bytes),
            smtp_host=get("SMTP_HOST", None),
            smtp_port=int(get("SMTP_PORT", "587") or 587),
            smtp_user=get("SMTP_USER", None),
            smtp_password=get("SMTP_PASSWORD", "") or "",
            smtp_from=get("SMTP_FROM", defaults.smtp_from) or defaults.smtp_from,
            smtp_tls=(get("SMTP_TLS", "starttls") or "starttls").lower(),
            smtp_timeout_seconds=float(get("SMTP_TIMEOUT_SECONDS", "10") or 10),
            smtp_ca_file=get("SMTP_CA_FILE", None),
            sms_gateway_url=get("SMS_GATEWAY_URL", None),
            sms_gateway_token=get("SMS_GATEWAY_TOKEN", "") or "",
            sms_from=get("SMS_FROM", defaults.sms_from) or defaults.sms_from,
            map_tile_url=_tile_url(get("MAP_TILE_URL", None)),
            map_tile_attribution=get("MAP_TILE_ATTRIBUTION", "") or "",
            webhook_brand_concurrency=max(1, int(get("WEBHOOK_BRAND_CONCURRENCY", "2") or 2)),
            default_currency=_currency(get("DEFAULT_CURRENCY", defaults.default_currency) or ""),
        )


def _currency(value: str) -> str:
    """DEFAULT_CURRENCY as an ISO 4217 code; anything else stops start-up rather than every pass."""
    code = value.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"DEFAULT_CURRENCY must be an ISO 4217 code such as EUR, not {value}")
    return code


def _tile_url(value: str | None) -> str | None:
    """MAP_TILE_URL: an https (or http) address with {z}, {x} and {y} (and optionally {s}. as the
    host's first label); a mistake stops start-up rather than leaving the store map blank or the
    page's CSP naming a wrong origin."""
    if value is None or not value.strip():
        return None
    url = value.strip()
    parts = urlsplit(url)
    host = parts.netloc.removeprefix("{s}.")
    if (parts.scheme not in ("https", "http") or not host or "{" in host or "@" in host
            or any(f"{{{name}}}" not in url for name in "zxy")):
        raise ValueError(f"MAP_TILE_URL must be an http(s) address with {{z}}, {{x}} and {{y}}, not {value}")
    return url


def tile_origin(url: str) -> str:
    """The origin map tiles come from, for the store page's CSP img-src: https://tile.example, or
    https://*.tile.example when the address picks a subdomain ({s}.tile.example)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*', 1)}"
