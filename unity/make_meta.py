"""Write the Unity .meta file of every asset in the package that lacks one (run after adding a file).

Unity ignores assets without a .meta in an immutable package (installed from git or a registry). GUIDs
are derived from the asset's path, so running this twice, or on two machines, gives the same files.
"""

import hashlib
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "com.vtuber.avatar-player"
IMPORTERS = {
    ".cs": "MonoImporter",
    ".asmdef": "AssemblyDefinitionImporter",
    ".json": "TextScriptImporter",
    ".md": "TextScriptImporter",
}
MONO_LINES = ("serializedVersion: 2", "defaultReferences: []", "executionOrder: 0", "icon: {instanceID: 0}")
MONO_FIELDS = "".join(f"  {line}\n" for line in MONO_LINES)
COMMON_FIELDS = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"


def meta_text(asset: Path) -> str:
    relative = asset.relative_to(PACKAGE).as_posix()
    guid = hashlib.md5(f"{PACKAGE.name}/{relative}".encode()).hexdigest()
    header = f"fileFormatVersion: 2\nguid: {guid}\n"
    if asset.is_dir():
        return f"{header}folderAsset: yes\nDefaultImporter:\n  externalObjects: {{}}\n{COMMON_FIELDS}"
    importer = IMPORTERS.get(asset.suffix, "DefaultImporter")
    if relative == "package.json":
        importer = "PackageManifestImporter"
    extra = MONO_FIELDS if importer == "MonoImporter" else ""
    return f"{header}{importer}:\n  externalObjects: {{}}\n{extra}{COMMON_FIELDS}"


def needs_meta(asset: Path) -> bool:
    """Every asset Unity imports: not hidden folders (``name~``, ``.name``) except a sample's contents.

    A sample folder (``Samples~/<name>``) is copied into the project's Assets when imported; its files keep
    their GUIDs only if their .meta files come along. The sample folder itself gets a new folder there.
    """
    parts = asset.relative_to(PACKAGE).parts
    if asset.suffix == ".meta" or any(part.startswith(".") for part in parts):
        return False
    if parts[0] == "Samples~":
        return len(parts) > 2
    return not any(part.endswith("~") for part in parts)


def main() -> int:
    written = 0
    for asset in sorted(PACKAGE.rglob("*")):
        meta = asset.with_name(asset.name + ".meta")
        if not needs_meta(asset) or meta.exists():
            continue
        meta.write_text(meta_text(asset))
        written += 1
    print(f"wrote {written} .meta files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
