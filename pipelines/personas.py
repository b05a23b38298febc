"""Load persona definitions from YAML files (one persona per file) and look them up by id.

A persona's recorded version is its declared ``version`` plus a short hash of its content, so a
job can say exactly which persona text answered even if someone edited the file without bumping it.
"""

import hashlib
from functools import lru_cache
from pathlib import Path

import yaml

from pipelines.errors import StageError
from pipelines.settings import get_settings
from schemas.errors import ErrorCode
from schemas.persona import Persona


class UnknownPersona(StageError, KeyError):
    """No persona with that id: a request problem (the API answers ``unknown_persona``)."""

    def __init__(self, persona_id: str, known: list[str]) -> None:
        super().__init__(
            ErrorCode.unknown_persona,
            f"unknown persona {persona_id!r}; known: {', '.join(sorted(known)) or 'none'}",
        )
        self.persona_id = persona_id

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return self.message


def content_version(persona: Persona) -> str:
    """``"<declared version>+<8 hex digits of the content hash>"``."""
    content = persona.model_dump_json(exclude={"version"})
    digest = hashlib.sha256(content.encode()).hexdigest()[:8]
    return f"{persona.version}+{digest}"


def load_persona_file(path: Path) -> Persona:
    """Parse and validate one file; unknown keys are refused so a typo cannot be silently ignored."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a persona file must hold a mapping")
    unknown = set(data) - set(Persona.model_fields)
    if unknown:
        raise ValueError(f"{path}: unknown persona fields {sorted(unknown)}")
    persona = Persona.model_validate(data)
    return persona.model_copy(update={"version": content_version(persona)})


def load_personas(directory: Path) -> dict[str, Persona]:
    """Every ``*.yaml`` / ``*.yml`` persona in ``directory``, by id; duplicate ids are an error."""
    personas: dict[str, Persona] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        persona = load_persona_file(path)
        if persona.id in personas:
            raise ValueError(f"{path}: persona id {persona.id!r} is defined twice")
        personas[persona.id] = persona
    return personas


@lru_cache
def _personas_in(directory: Path) -> dict[str, Persona]:
    return load_personas(directory)


def get_persona(persona_id: str) -> Persona:
    """The persona from the configured ``personas_dir``, read once per process."""
    personas = _personas_in(get_settings().personas_dir)
    try:
        return personas[persona_id]
    except KeyError:
        raise UnknownPersona(persona_id, list(personas)) from None


def reload_personas() -> None:
    """Forget the cached files, e.g. after editing a persona (the next lookup reads them again)."""
    _personas_in.cache_clear()
