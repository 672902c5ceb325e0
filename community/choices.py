from django.db import models


class Category(models.TextChoices):
    AUTOMATION = "automation", "Automation"
    MAINTENANCE = "maintenance", "Maintenance"
    QUALITY = "quality-management", "Quality management"
    AI = "ai", "AI"
    ENERGY = "energy", "Energy"
    OTHER = "other", "Other"


class PostStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    CLOSED = "closed", "Closed"
    ARCHIVED = "archived", "Archived"


# A post open to new replies; closed and archived posts are read-only threads.
REPLYABLE_STATUSES = (PostStatus.PUBLISHED,)


class VoteValue(models.IntegerChoices):
    UP = 1, "Up"
    DOWN = -1, "Down"


class ReportReason(models.TextChoices):
    SPAM = "spam", "Spam"
    OFFENSIVE = "offensive", "Offensive"
    OFF_TOPIC = "off-topic", "Off-topic"
    OTHER = "other", "Other"


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    HIDDEN = "hidden", "Content hidden"
    DISMISSED = "dismissed", "Dismissed"


class ReportResolution(models.TextChoices):
    HIDE = "hide", "Hide the content"
    DISMISS = "dismiss", "Dismiss the report"


class NotificationKind(models.TextChoices):
    REPLY = "reply", "New reply"
    BEST_ANSWER = "best-answer", "Reply chosen as best answer"


class UseCaseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Region(models.TextChoices):
    CENTRAL = "central", "Central (Riyadh)"
    WESTERN = "western", "Western (Makkah)"
    EASTERN = "eastern", "Eastern Province"
    NORTHERN = "northern", "Northern"
    SOUTHERN = "southern", "Southern"
    GULF = "gulf", "Gulf (outside Saudi Arabia)"
