import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.errors import StageError
from pipelines.personas import (
    UnknownPersona,
    get_persona,
    load_persona_file,
    load_personas,
    reload_personas,
)
from pipelines.settings import PROJECT_ROOT, get_settings
from schemas.emotion import Emotion
from schemas.errors import ErrorCode

MINIMAL = "id: {id}\nname: {name}\nsystem_prompt: You are {name}.\n"


@pytest.fixture
def personas_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("VTUBER_PERSONAS_DIR", str(tmp_path))
    get_settings.cache_clear()
    reload_personas()
    yield tmp_path
    get_settings.cache_clear()
    reload_personas()


def test_bundled_hana_persona() -> None:
    personas = load_personas(PROJECT_ROOT / "personas")
    hana = personas["hana"]
    assert hana.name == "Hana" and hana.language == "en"
    assert re.fullmatch(r"1\+[0-9a-f]{8}", hana.version)
    assert set(hana.allowed_emotions) == {e.value for e in Emotion}
    assert hana.allowed_motions == ["wave", "nod", "shake_head", "bow"]
    assert hana.voice.piper.length_scale == 1.0
    assert "Hana" in hana.system_prompt


def test_default_persona_setting_names_a_bundled_persona() -> None:
    assert get_settings().default_persona in load_personas(PROJECT_ROOT / "personas")


def test_version_changes_with_the_content(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(MINIMAL.format(id="a", name="Ann"))
    first = load_persona_file(path).version
    path.write_text(MINIMAL.format(id="a", name="Ann") + "# a comment only\n")
    assert load_persona_file(path).version == first  # formatting is not content
    path.write_text(MINIMAL.format(id="a", name="Anne"))
    second = load_persona_file(path).version
    assert second != first and second.startswith("1+")


def test_get_persona_reads_the_configured_directory_once(personas_dir: Path) -> None:
    (personas_dir / "ann.yaml").write_text(MINIMAL.format(id="ann", name="Ann"))
    (personas_dir / "bo.yml").write_text(MINIMAL.format(id="bo", name="Bo"))
    assert get_persona("ann").name == "Ann"
    assert get_persona("bo").name == "Bo"
    (personas_dir / "ann.yaml").write_text(MINIMAL.format(id="ann", name="Changed"))
    assert get_persona("ann").name == "Ann"  # cached
    reload_personas()
    assert get_persona("ann").name == "Changed"


def test_unknown_persona(personas_dir: Path) -> None:
    (personas_dir / "ann.yaml").write_text(MINIMAL.format(id="ann", name="Ann"))
    with pytest.raises(UnknownPersona) as caught:
        get_persona("nobody")
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, StageError)
    assert caught.value.code == ErrorCode.unknown_persona and not caught.value.retryable
    assert str(caught.value) == "unknown persona 'nobody'; known: ann"


def test_bad_files_fail_loudly(tmp_path: Path) -> None:
    (tmp_path / "typo.yaml").write_text(MINIMAL.format(id="t", name="T") + "allowed_emotion: [happy]\n")
    with pytest.raises(ValueError, match="unknown persona fields"):
        load_personas(tmp_path)
    (tmp_path / "typo.yaml").write_text("- a list\n")
    with pytest.raises(ValueError, match="mapping"):
        load_personas(tmp_path)
    (tmp_path / "typo.yaml").write_text("id: t\n")
    with pytest.raises(ValueError, match="name"):
        load_personas(tmp_path)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MINIMAL.format(id="same", name="A"))
    (tmp_path / "b.yaml").write_text(MINIMAL.format(id="same", name="B"))
    with pytest.raises(ValueError, match="defined twice"):
        load_personas(tmp_path)
