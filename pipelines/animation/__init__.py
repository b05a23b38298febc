"""Lip sync, expressions, blinks and motion triggers for the avatar, from audio and phonemes."""

from pipelines.animation.track import build_animation_track

__all__ = ["build_animation_track"]
