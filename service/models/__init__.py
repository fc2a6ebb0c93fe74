"""The database tables, one module per concern, one metadata (`Base`) for Alembic.

Every model is re-exported here: `from service.models import Card`."""

from service.models.analytics import (
    AnalyticsActivity,
    AnalyticsCache,
    AnalyticsCohortActivity,
    AnalyticsDaily,
    AnalyticsPurchaseLink,
    AnalyticsRollupState,
)
from service.models.apple import DeviceLog, PassFile, PassPersonalization, Registration
from service.models.audit import AuditEntry
from service.models.base import Base, UTCDateTime, utcnow
from service.models.brands import ApiKey, Brand, SigningCertificate, Store
from service.models.campaigns import Campaign, CampaignRecipient, ProductSubscription, RestockEvent
from service.models.cards import (
    HELD_REWARD_SOURCES,
    Card,
    CardRecovery,
    CatalogueReward,
    Customer,
    HeldReward,
    LedgerEntry,
    not_reversed,
)
from service.models.cashiers import Cashier, Till
from service.models.challenges import Challenge, ChallengeProgress
from service.models.console import StaffAccount, StaffLink, StaffRecoveryCode, StaffSession
from service.models.google import GoogleMessage, GoogleWalletEvent
from service.models.imports import ImportJob
from service.models.journeys import Journey, JourneyEntry, JourneyTask, JourneyWatermark
from service.models.messaging import CardMessage, MessageOptOut, MessagingRules, PacedRecipient
from service.models.nps import NpsAnswer, NpsSurvey
from service.models.partners import PartnerPresentation, ProgramPartner
from service.models.programs import Program, Tier
from service.models.push import PushDelivery
from service.models.rate_limits import RateLimitCounter
from service.models.safeguards import LimitRefusal
from service.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "utcnow",
    "not_reversed",
    "UTCDateTime",
    "Base",
    "Brand",
    "ApiKey",
    "SigningCertificate",
    "Store",
    "Program",
    "Tier",
    "Customer",
    "Card",
    "LedgerEntry",
    "CardRecovery",
    "CatalogueReward",
    "HeldReward",
    "HELD_REWARD_SOURCES",
    "Cashier",
    "Till",
    "PassFile",
    "Registration",
    "DeviceLog",
    "PassPersonalization",
    "PushDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookDelivery",
    "Campaign",
    "CampaignRecipient",
    "ProductSubscription",
    "RestockEvent",
    "GoogleMessage",
    "GoogleWalletEvent",
    "ImportJob",
    "Challenge",
    "ChallengeProgress",
    "Journey",
    "JourneyEntry",
    "JourneyTask",
    "JourneyWatermark",
    "AnalyticsCache",
    "AnalyticsRollupState",
    "AnalyticsDaily",
    "AnalyticsActivity",
    "AnalyticsPurchaseLink",
    "AnalyticsCohortActivity",
    "NpsSurvey",
    "NpsAnswer",
    "RateLimitCounter",
    "StaffAccount",
    "StaffSession",
    "StaffRecoveryCode",
    "StaffLink",
    "AuditEntry",
    "LimitRefusal",
    "ProgramPartner",
    "PartnerPresentation",
    "MessagingRules",
    "MessageOptOut",
    "CardMessage",
    "PacedRecipient",
]
