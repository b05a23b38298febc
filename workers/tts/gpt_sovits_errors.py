"""What a GPT-SoVITS failure means: worth another try, or final.

api_v2.py answers every exception inside synthesis with the same 400
``{"message": "tts failed", "Exception": str(e)}``, whether the cause is ours and permanent (a
reference clip that does not exist or lies outside 3-10 s, text with no content, an empty prompt on
v3/v4, a language code the pipeline refuses) or the server's and passing (the GPU out of memory, a
file it could not read this time). Only the message tells them apart, and messages that pass
through upstream's i18n come in the server's locale (Chinese by default, or English).
"""

import re
from dataclasses import dataclass

from schemas.errors import ErrorCode

PERMANENT = re.compile(
    "|".join(
        [
            r"not exists",  # the reference clip is not on the server's disk
            r"参考音频在3~10秒范围外",
            r"outside the 3-10 second range",
            r"请输入有效文本",
            r"enter valid text",
            r"prompt_text cannot be empty",  # v3/v4 need the reference's transcript
            r"V3不支持无参考文本模式",
            r"does not support the no-reference-text mode",
            r"ref_audio_path cannot be empty",
        ]
    ),
    re.IGNORECASE,
)
TRANSIENT = re.compile(
    "|".join(
        [
            r"out of memory",
            r"OutOfMemoryError",
            r"显存不足",
            r"内存不足",
            r"CUDA error",
            r"Input/output error",
            r"Resource temporarily unavailable",
            r"Too many open files",
            r"Permission denied",
            r"Error opening",  # libsndfile could not open a clip that exists
            r"音频加载失败",
            r"Failed to Load Audio",
            r"Errno (5|11|13|24|110|116)\b",  # EIO, EAGAIN, EACCES, EMFILE, ETIMEDOUT, ESTALE (NFS)
        ]
    ),
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Verdict:
    code: ErrorCode
    retryable: bool
    retry_here: bool  # worth asking again at once; otherwise only a later stage retry may help
    message: str


def classify_400(message: str, exception: str | None) -> Verdict:
    """A 400 from ``/tts``: ``message`` and (for pipeline failures) ``exception``."""
    text = f"{message}: {exception}" if exception else message
    if message != "tts failed":  # check_params: the request itself is wrong
        return Verdict(ErrorCode.tts_bad_request, False, False, text)
    detail = exception or ""
    if not detail.strip():
        # A bare assert in TTS.run: in practice a language code in the wrong case or unknown to
        # the model; the same request fails the same way.
        return Verdict(ErrorCode.tts_bad_request, False, False, f"{text} (an assertion in the pipeline)")
    if TRANSIENT.search(detail):
        return Verdict(ErrorCode.tts_failed, True, True, text)
    if PERMANENT.search(detail):
        return Verdict(ErrorCode.tts_bad_request, False, False, text)
    # Unknown: retried by the stage (bounded), never in a tight loop here.
    return Verdict(ErrorCode.tts_failed, True, False, text)
