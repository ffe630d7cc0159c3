"""Imports every model module so `Base.metadata` knows all tables (migrations, tests)."""

from storage import cases, inspection, models, reminders, reviews, roster
from storage.models import Base

__all__ = ["Base", "cases", "inspection", "models", "reminders", "reviews", "roster"]
