"""Serving one listen in an STT worker process: the lease, and the listener under it.

A listen is held by exactly one worker at a time: the one whose token is in the lease key. A thread
of its own refreshes the lease every third of its lifetime, so a long transcription never lets it
lapse; only a dead (or cut-off) process does, and then the API sends the listen to another worker.
A worker that finds its lease taken stops at once (after the current window) without ending the
listen: its successor carries on from the checkpoint.
"""

import threading
import uuid
from collections.abc import Callable

from pipelines.backends import SpeechToText
from pipelines.listen_endpointing import VoiceActivity
from pipelines.listen_streams import ListenChannel
from pipelines.listen_transcriber import Listener, ListenTuning
from pipelines.listen_turns import submit_listened
from pipelines.logging_setup import get_logger
from pipelines.stages.context import StageContext

log = get_logger(__name__)


class Lease:
    def __init__(self, channel: ListenChannel, lease_s: float) -> None:
        self.channel, self.lease_s = channel, lease_s
        self.token = uuid.uuid4().hex
        self.lost = threading.Event()
        self._stop = threading.Event()

    def claim(self) -> bool:
        return self.channel.claim(self.token, self.lease_s)

    def keep(self) -> None:
        """Refresh until stopped; a refresh that finds another holder (or none) marks it lost."""
        while not self._stop.wait(self.lease_s / 3):
            try:
                if not self.channel.refresh(self.token, self.lease_s):
                    self.lost.set()
                    return
            except Exception as exc:  # Redis restarting: the next refresh may still be in time
                log.warning("listen lease refresh failed", error=repr(exc))

    def release(self) -> None:
        self._stop.set()
        try:
            self.channel.release(self.token)
        except Exception as exc:  # it expires by itself
            log.warning("listen lease not released", error=repr(exc))


def serve_listen(
    ctx: StageContext,
    channel: ListenChannel,
    lease: Lease,
    stt_for: Callable[[str], SpeechToText],
    vad: VoiceActivity,
) -> str | None:
    """Run the listen whose lease was claimed until it ends (its reason) or the lease is lost (None)."""
    meta = channel.meta()
    if meta is None:  # expired: the client left long ago
        lease.release()
        return None
    keeper = threading.Thread(target=lease.keep, name=f"lease-{channel.keys.listen_id}", daemon=True)
    keeper.start()
    try:
        listener = Listener(
            channel,
            stt_for(meta.model),
            vad,
            lambda utterance, text: submit_listened(ctx, channel, meta, utterance, text),
            language=meta.language,
            tuning=ListenTuning.from_settings(ctx.settings),
            lost=lease.lost.is_set,
        )
        return listener.run()
    finally:
        lease.release()
