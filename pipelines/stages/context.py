"""What every stage needs from the outside: storage, events, the next-stage dispatcher, settings."""

from dataclasses import dataclass

from pipelines.context_store import ContextStore
from pipelines.dispatch import Dispatcher
from pipelines.events import EventLog
from pipelines.settings import Settings
from pipelines.storage import Storage


@dataclass
class StageContext:
    storage: Storage
    dispatcher: Dispatcher
    context: ContextStore
    settings: Settings
    events: EventLog
