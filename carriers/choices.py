"""Every closed list of values the carrier sales desk uses, in one place."""

from django.db import models


class EquipmentType(models.TextChoices):
    DRY_VAN = "dry_van", "Dry van"
    REEFER = "reefer", "Reefer"
    FLATBED = "flatbed", "Flatbed"
    STEP_DECK = "step_deck", "Step deck"
    POWER_ONLY = "power_only", "Power only"


class LoadStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    BOOKED = "booked", "Booked"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


# Statuses in which a carrier holds the load at an agreed rate.
CARRIER_HELD_STATUSES = (LoadStatus.BOOKED, LoadStatus.IN_TRANSIT, LoadStatus.DELIVERED)

# Status changes an operator may make by hand; booking itself only happens through a negotiation.
LOAD_STATUS_TRANSITIONS = {
    LoadStatus.AVAILABLE: {LoadStatus.CANCELLED, LoadStatus.EXPIRED},
    LoadStatus.BOOKED: {LoadStatus.IN_TRANSIT, LoadStatus.CANCELLED, LoadStatus.AVAILABLE},
    LoadStatus.IN_TRANSIT: {LoadStatus.DELIVERED},
    LoadStatus.DELIVERED: set(),
    LoadStatus.CANCELLED: {LoadStatus.AVAILABLE},
    LoadStatus.EXPIRED: {LoadStatus.AVAILABLE},
}


class NegotiationStatus(models.TextChoices):
    OPEN = "open", "Open"
    BOOKED = "booked", "Booked"
    REJECTED = "rejected", "Rejected"
    CLOSED = "closed", "Closed (load no longer available)"


class OfferDecision(models.TextChoices):
    ACCEPT = "accept", "Accept"
    COUNTER = "counter", "Counter"
    REJECT = "reject", "Reject"


class CallOutcome(models.TextChoices):
    BOOKED = "booked", "Booked"
    NO_MATCHING_LOAD = "no_matching_load", "No matching load"
    CARRIER_NOT_ELIGIBLE = "carrier_not_eligible", "Carrier not eligible"
    RATE_NOT_AGREED = "rate_not_agreed", "Rate not agreed"
    CARRIER_DECLINED = "carrier_declined", "Carrier declined"
    TRANSFERRED_TO_REP = "transferred_to_rep", "Transferred to a sales rep"
    ABANDONED = "abandoned", "Abandoned"


class FollowUpReason(models.TextChoices):
    BETTER_RATE = "better_rate", "Call back with a better rate"
    DOCUMENTS = "documents", "Waiting for documents"
    LANE_OPENS = "lane_opens", "Call when a lane opens"
    CARRIER_BUSY = "carrier_busy", "Carrier asked to be called later"
    OTHER = "other", "Other"


class Sentiment(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


class VerificationSource(models.TextChoices):
    FMCSA = "fmcsa", "FMCSA QCMobile"
    FIXTURE = "fixture", "Demo fixture (not from FMCSA)"


class LookupOutcome(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    INELIGIBLE = "ineligible", "Not eligible"
    UNAVAILABLE = "unavailable", "FMCSA unavailable"


class IneligibilityReason(models.TextChoices):
    NOT_FOUND = "not_found", "Not found in FMCSA"
    NOT_ALLOWED_TO_OPERATE = "not_allowed_to_operate", "Not allowed to operate"
    INACTIVE = "inactive", "USDOT status not active"
    OUT_OF_SERVICE = "out_of_service", "Out of service"
    UNSATISFACTORY_SAFETY_RATING = "unsatisfactory_safety_rating", "Unsatisfactory safety rating"
    INSURANCE_MISSING = "insurance_missing", "Required insurance not on file"


class USState(models.TextChoices):
    AL = "AL", "Alabama"
    AK = "AK", "Alaska"
    AZ = "AZ", "Arizona"
    AR = "AR", "Arkansas"
    CA = "CA", "California"
    CO = "CO", "Colorado"
    CT = "CT", "Connecticut"
    DE = "DE", "Delaware"
    DC = "DC", "District of Columbia"
    FL = "FL", "Florida"
    GA = "GA", "Georgia"
    HI = "HI", "Hawaii"
    ID = "ID", "Idaho"
    IL = "IL", "Illinois"
    IN = "IN", "Indiana"
    IA = "IA", "Iowa"
    KS = "KS", "Kansas"
    KY = "KY", "Kentucky"
    LA = "LA", "Louisiana"
    ME = "ME", "Maine"
    MD = "MD", "Maryland"
    MA = "MA", "Massachusetts"
    MI = "MI", "Michigan"
    MN = "MN", "Minnesota"
    MS = "MS", "Mississippi"
    MO = "MO", "Missouri"
    MT = "MT", "Montana"
    NE = "NE", "Nebraska"
    NV = "NV", "Nevada"
    NH = "NH", "New Hampshire"
    NJ = "NJ", "New Jersey"
    NM = "NM", "New Mexico"
    NY = "NY", "New York"
    NC = "NC", "North Carolina"
    ND = "ND", "North Dakota"
    OH = "OH", "Ohio"
    OK = "OK", "Oklahoma"
    OR = "OR", "Oregon"
    PA = "PA", "Pennsylvania"
    RI = "RI", "Rhode Island"
    SC = "SC", "South Carolina"
    SD = "SD", "South Dakota"
    TN = "TN", "Tennessee"
    TX = "TX", "Texas"
    UT = "UT", "Utah"
    VT = "VT", "Vermont"
    VA = "VA", "Virginia"
    WA = "WA", "Washington"
    WV = "WV", "West Virginia"
    WI = "WI", "Wisconsin"
    WY = "WY", "Wyoming"
