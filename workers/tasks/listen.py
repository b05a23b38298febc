"""The realtime listen task: claim a listen and serve it on a thread of this STT worker process.

The message only hands the listen over; it is acknowledged once a thread holds it, and the thread
serves the listen for as long as the client streams. One process serves up to
``listen_streams_per_worker`` listens beside its ordinary tasks (the model is shared; CTranslate2
queues concurrent calls), so a live listen never ties up a pool slot. A full process sends the
message back to the queue for another worker. Losing the process loses its threads' leases, and the
API sends each listen again (pipelines/listen_streams.py).
"""

import threading

from celery import Task

from pipelines.listen_streams import ListenChannel
from pipelines.listen_worker import Lease, serve_listen
from pipelines.logging_setup import get_logger
from pipelines.queues import TaskName
from workers.backends import speech_to_text
from workers.runtime import app, redis_client, settings, stage_context
from workers.stt.silero_stream import SileroStream

log = get_logger(__name__)
FULL_RETRY_S = 1.0

_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def slots() -> threading.BoundedSemaphore:
    """This process's listen slots (made after the fork, in the process that uses them)."""
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(max(1, settings().listen_streams_per_worker))
        return _slots


@app.task(name=TaskName.listen, bind=True, max_retries=None, ignore_result=True)
def listen(self: Task, listen_id: str) -> None:
    if not slots().acquire(blocking=False):
        raise self.retry(countdown=FULL_RETRY_S)  # this process is full: another worker may not be
    channel = ListenChannel(redis_client(), listen_id)
    lease = Lease(channel, settings().listen_lease_s)
    try:
        claimed = lease.claim()
    except Exception:
        slots().release()
        raise
    if not claimed:  # another worker serves it, or it has ended
        slots().release()
        return
    threading.Thread(target=_serve, args=(channel, lease), name=f"listen-{listen_id}", daemon=True).start()


def _serve(channel: ListenChannel, lease: Lease) -> None:
    try:
        serve_listen(
            stage_context(), channel, lease, lambda model: speech_to_text(settings(), model), SileroStream()
        )
    except Exception:
        log.exception("listen failed", listen_id=channel.keys.listen_id)  # the API sends it again
    finally:
        slots().release()
