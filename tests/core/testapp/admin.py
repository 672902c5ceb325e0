from django.contrib import admin

from core.admin import BaseModelAdmin

from .models import Widget


@admin.register(Widget)
class WidgetAdmin(BaseModelAdmin):
    list_display = ("name", "size", "deleted_at")
