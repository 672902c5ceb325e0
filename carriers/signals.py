"""Rows that arrive without the services (``loaddata`` of fixtures) still count in the daily
totals behind the sales metrics. Services count their own writes; these handlers only see raw
saves, and only rows that were inserted, so loading the same fixture twice counts once."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from . import rollups
from .models import Call, Offer


@receiver(post_save, sender=Call, dispatch_uid="carriers.count_loaded_call")
def count_loaded_call(sender, instance, created, raw, **kwargs):
    if raw and created:
        rollups.count_call(instance)


@receiver(post_save, sender=Offer, dispatch_uid="carriers.count_loaded_agreement")
def count_loaded_agreement(sender, instance, created, raw, **kwargs):
    if raw and created:
        rollups.count_offer(instance, posted=instance.negotiation.load.loadboard_rate)
