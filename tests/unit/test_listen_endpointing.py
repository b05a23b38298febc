"""Where the endpointer puts the edges of speech, from voice-activity probabilities."""

from pipelines.listen_endpointing import Edge, Endpointer

WINDOW = 512  # 32 ms at 16 kHz


def edges(probabilities: list[float], *, end_silence_ms: int) -> list[tuple[int, Edge]]:
    endpointer = Endpointer(window=WINDOW, end_silence_ms=end_silence_ms)
    return [(i, edge) for i, p in enumerate(probabilities) if (edge := endpointer.push(p)) is not None]


def test_speech_starts_at_the_first_window_above_the_threshold_and_ends_after_the_silence() -> None:
    # 600 ms of silence is 19 windows of 32 ms
    probabilities = [0.1] * 5 + [0.9] * 20 + [0.05] * 25
    assert edges(probabilities, end_silence_ms=600) == [(5, Edge.started), (25 + 18, Edge.ended)]


def test_a_pause_shorter_than_the_end_silence_and_soft_speech_keep_the_utterance_going() -> None:
    probabilities = [0.9] * 10 + [0.05] * 10 + [0.9] * 5 + [0.4] * 40 + [0.9] * 5
    assert edges(probabilities, end_silence_ms=600) == [(0, Edge.started)]


def test_enough_speech_counts_only_windows_above_the_threshold() -> None:
    blip = Endpointer(window=WINDOW, min_speech_ms=250)  # 8 windows
    for p in [0.9] * 3 + [0.4] * 20:
        blip.push(p)
    assert blip.in_speech and not blip.enough_speech
    for p in [0.9] * 5:
        blip.push(p)
    assert blip.enough_speech


def test_restart_begins_a_new_region_while_speech_goes_on() -> None:
    endpointer = Endpointer(window=WINDOW, min_speech_ms=250)
    for p in [0.9] * 20:
        endpointer.push(p)
    endpointer.restart()
    assert endpointer.in_speech and not endpointer.enough_speech
