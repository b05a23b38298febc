"""Manual avatar commands: what an operator sends to ``POST /v1/sessions/{id}/avatar``.

One JSON object discriminated by ``action``. The API records each command as a completed job of
kind ``avatar`` and appends it to the session's event log as an ``avatar.command`` event whose
``command`` field is the command below, so every avatar client of the session applies it at once.

- ``expression``: hold a preset (one of :class:`~schemas.emotion.Emotion`) at ``weight`` for
  ``duration_s`` seconds, blending in and out over ``fade_s`` (the client's default when absent).
- ``motion``: play a one-off gesture; it must be one of the session persona's ``allowed_motions``
  (checked by the API against the persona, not here: the vocabulary is per persona).
- ``look_at``: turn the gaze to a point in metres, avatar space: +x right, +y up, +z forward.
- ``reset``: back to neutral, stop motions, look ahead.

Unknown fields are refused, so a typo (``"wieght"``) is a 422 rather than a silent default. An
unknown expression is a validation error of type ``unknown_expression`` whose context lists the
valid ones (the API answers it with that error code).
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from pydantic_core import PydanticCustomError

from schemas.emotion import Emotion
from schemas.errors import ErrorCode


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ExpressionCommand(_Command):
    action: Literal["expression"] = "expression"
    expression: Emotion
    weight: float = Field(default=1.0, ge=0.0, le=1.0, description="Blend-shape weight of the preset.")
    duration_s: float = Field(default=2.0, gt=0.0, le=3600.0, description="How long it is held.")
    fade_s: float | None = Field(
        default=None, ge=0.0, le=60.0, description="Blend in/out time; the client's default when absent."
    )

    @field_validator("expression", mode="before")
    @classmethod
    def _known_expression(cls, value: object) -> object:
        valid = [emotion.value for emotion in Emotion]
        if isinstance(value, str) and value not in valid:
            raise PydanticCustomError(
                ErrorCode.unknown_expression.value,
                "unknown expression '{name}'; valid: {listed}",
                {"name": value[:64], "listed": ", ".join(valid), "valid": valid},
            )
        return value


class MotionCommand(_Command):
    action: Literal["motion"] = "motion"
    motion: str = Field(
        min_length=1, max_length=64, description="One of the session persona's allowed_motions."
    )


class LookAtCommand(_Command):
    action: Literal["look_at"] = "look_at"
    x: float = Field(description="Metres to the avatar's right (negative: left).")
    y: float = Field(description="Metres up.")
    z: float = Field(description="Metres forward (in front of the avatar).")


class ResetCommand(_Command):
    action: Literal["reset"] = "reset"


AvatarCommand = Annotated[
    ExpressionCommand | MotionCommand | LookAtCommand | ResetCommand,
    Field(discriminator="action"),
]

# Validates and serialises the union outside a model (the route body, event payloads, clients).
AVATAR_COMMAND: TypeAdapter[AvatarCommand] = TypeAdapter(AvatarCommand)
