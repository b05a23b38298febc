"""The committed JSON Schemas are what the Pydantic models generate (clients build on those files)."""

import json
from pathlib import Path

from tools.export_schemas import EXPORTS, SCHEMA_DIR, export_schemas, main


def test_committed_schemas_are_current() -> None:
    stale = export_schemas(check=True)
    assert stale == [], f"stale: {stale}; run `python -m tools.export_schemas`"


def test_check_mode_reports_a_stale_copy_and_writing_fixes_it(tmp_path: Path) -> None:
    for _, filename in EXPORTS:
        (tmp_path / filename).write_text("{}\n", encoding="utf-8")
    expected = [tmp_path / filename for _, filename in EXPORTS]
    assert export_schemas(check=True, directory=tmp_path) == expected
    assert (tmp_path / EXPORTS[0][1]).read_text(encoding="utf-8") == "{}\n"  # check writes nothing
    assert export_schemas(directory=tmp_path) == expected
    assert export_schemas(check=True, directory=tmp_path) == []


def test_animation_schema_is_versioned_and_deterministic() -> None:
    text = (SCHEMA_DIR / "animation.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert schema["properties"]["schema_version"]["const"] == "1.0"
    assert (
        text.endswith("}\n")
        and text == json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def test_cli_check_exits_zero_when_current() -> None:
    assert main(["--check"]) == 0
