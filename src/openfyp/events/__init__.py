"""Engagement events: the schema and the append-only, region-bound event log."""

from openfyp.events.log import AppendResult, EventLog, ForeignRegionEvent, SqlEventLog
from openfyp.events.schema import Event, EventBatch, EventIn, EventKind, Surface

__all__ = ["AppendResult", "Event", "EventBatch", "EventIn", "EventKind", "EventLog", "ForeignRegionEvent",
           "SqlEventLog", "Surface"]
