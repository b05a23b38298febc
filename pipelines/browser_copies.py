"""The Ogg/Opus copy of synthesized speech, made on its first request and kept.

Browsers asking ``?format=ogg`` get a tenth of the wav's bytes; the Unity client and the web player
play the wav. Encoding on request keeps the voice worker's turn free of it (an encode and a second
upload per segment), and a copy nobody asks for is never made.
"""

import io

import soundfile

from pipelines.audio_codec import AudioEncodeError, encode_audio
from pipelines.storage import Storage, StoredAudio

COPYABLE = {"ogg": "audio/ogg"}


def browser_copy(storage: Storage, info: StoredAudio, fmt: str) -> StoredAudio | None:
    """``info`` in ``fmt``: the stored copy, or one encoded now from the wav (stored under the
    wav's name with the other extension, so a second request, or a racing one, finds the same
    file). None when there is none and none can be made (not synthesized speech, unknown format)."""
    stored = storage.copy_in_format(info, fmt)
    if stored is not None or fmt not in COPYABLE or info.metadata.get("format") != "wav":
        return stored
    stem, dot, _ = info.filename.rpartition(".")
    if not dot:
        return None
    samples, rate = soundfile.read(io.BytesIO(storage.read_audio(info.id)), dtype="float32")
    try:
        data = encode_audio(samples, int(rate), "ogg")
    except AudioEncodeError:
        return None
    copy_id = storage.replace_audio(
        data,
        filename=f"{stem}.{fmt}",
        content_type=COPYABLE[fmt],
        metadata={**info.metadata, "format": fmt},
    )
    return storage.audio_info(copy_id)
