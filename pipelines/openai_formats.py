"""A transcript in the response formats of OpenAI's audio API: json, text, srt, verbose_json, vtt."""

from pipelines.transcript_formats import to_srt, to_vtt
from schemas.openai_audio import (
    Granularity,
    OpenAISegment,
    OpenAITranscription,
    OpenAIVerboseTranscription,
    OpenAIWord,
    ResponseFormat,
)
from schemas.transcription import Transcript

# Whisper's language names (whisper.tokenizer.LANGUAGES): verbose_json names the language in full.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "english",
    "zh": "chinese",
    "de": "german",
    "es": "spanish",
    "ru": "russian",
    "ko": "korean",
    "fr": "french",
    "ja": "japanese",
    "pt": "portuguese",
    "tr": "turkish",
    "pl": "polish",
    "ca": "catalan",
    "nl": "dutch",
    "ar": "arabic",
    "sv": "swedish",
    "it": "italian",
    "id": "indonesian",
    "hi": "hindi",
    "fi": "finnish",
    "vi": "vietnamese",
    "he": "hebrew",
    "uk": "ukrainian",
    "el": "greek",
    "ms": "malay",
    "cs": "czech",
    "ro": "romanian",
    "da": "danish",
    "hu": "hungarian",
    "ta": "tamil",
    "no": "norwegian",
    "th": "thai",
    "ur": "urdu",
    "hr": "croatian",
    "bg": "bulgarian",
    "lt": "lithuanian",
    "la": "latin",
    "mi": "maori",
    "ml": "malayalam",
    "cy": "welsh",
    "sk": "slovak",
    "te": "telugu",
    "fa": "persian",
    "lv": "latvian",
    "bn": "bengali",
    "sr": "serbian",
    "az": "azerbaijani",
    "sl": "slovenian",
    "kn": "kannada",
    "et": "estonian",
    "mk": "macedonian",
    "br": "breton",
    "eu": "basque",
    "is": "icelandic",
    "hy": "armenian",
    "ne": "nepali",
    "mn": "mongolian",
    "bs": "bosnian",
    "kk": "kazakh",
    "sq": "albanian",
    "sw": "swahili",
    "gl": "galician",
    "mr": "marathi",
    "pa": "punjabi",
    "si": "sinhala",
    "km": "khmer",
    "sn": "shona",
    "yo": "yoruba",
    "so": "somali",
    "af": "afrikaans",
    "oc": "occitan",
    "ka": "georgian",
    "be": "belarusian",
    "tg": "tajik",
    "sd": "sindhi",
    "gu": "gujarati",
    "am": "amharic",
    "yi": "yiddish",
    "lo": "lao",
    "uz": "uzbek",
    "fo": "faroese",
    "ht": "haitian creole",
    "ps": "pashto",
    "tk": "turkmen",
    "nn": "nynorsk",
    "mt": "maltese",
    "sa": "sanskrit",
    "lb": "luxembourgish",
    "my": "myanmar",
    "bo": "tibetan",
    "tl": "tagalog",
    "mg": "malagasy",
    "as": "assamese",
    "tt": "tatar",
    "haw": "hawaiian",
    "ln": "lingala",
    "ha": "hausa",
    "ba": "bashkir",
    "jw": "javanese",
    "su": "sundanese",
    "yue": "cantonese",
}

MEDIA_TYPES: dict[ResponseFormat, str] = {
    "json": "application/json",
    "verbose_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/plain; charset=utf-8",
}


def render(
    transcript: Transcript,
    fmt: ResponseFormat,
    *,
    task: str = "transcribe",
    granularities: frozenset[Granularity] = frozenset({"segment"}),
    temperature: float = 0.0,
) -> str:
    """The response body for ``fmt``; segments are listed in verbose_json unless only words were
    asked for (OpenAI's rule), words only when asked for."""
    if fmt == "json":
        return OpenAITranscription(text=transcript.text).model_dump_json()
    if fmt == "text":
        return transcript.text + "\n"
    if fmt == "srt":
        return to_srt(transcript)
    if fmt == "vtt":
        return to_vtt(transcript)
    segments = [
        OpenAISegment(id=seg.id, start=seg.start, end=seg.end, text=seg.text, temperature=temperature)
        for seg in transcript.segments
    ]
    words = [
        OpenAIWord(word=word.word, start=word.start, end=word.end)
        for seg in transcript.segments
        for word in seg.words
    ]
    code = "en" if task == "translate" else transcript.language or ""  # a translation is English
    verbose = OpenAIVerboseTranscription(
        task="translate" if task == "translate" else "transcribe",
        language=LANGUAGE_NAMES.get(code, code),
        duration=transcript.duration_s,
        text=transcript.text,
        segments=segments if "segment" in granularities or not granularities else None,
        words=words if "word" in granularities else None,
    )
    return verbose.model_dump_json(exclude_none=True)
