"""Swedish first: the catalogue translates every message, and the compiled one matches it."""

import gettext
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "sv" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _unquote(lines: list[str]) -> str:
    return "".join(
        bytes(line[line.index('"') + 1 : line.rindex('"')], "utf-8")
        .decode("unicode_escape")
        .encode("latin-1")
        .decode("utf-8")
        for line in lines
    )


def entries() -> list[dict]:
    """The catalogue's entries: flags, msgid and msgstr(s), read the way msgfmt reads them."""
    found = []
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#~")]
        if not any(line.startswith("msgid") for line in lines):
            continue
        flags = " ".join(line for line in lines if line.startswith("#,"))
        parts: dict[str, list[str]] = {}
        key = None
        for line in lines:
            match = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) ", line)
            if match:
                key = match.group(1)
                parts[key] = [line]
            elif line.startswith('"') and key:
                parts[key].append(line)
        entry = {k: _unquote(v) for k, v in parts.items()}
        entry["fuzzy"] = "fuzzy" in flags
        found.append(entry)
    return found


def test_every_message_has_a_swedish_translation():
    assert len(entries()) > 1000  # the whole catalogue was read
    missing = [
        e["msgid"]
        for e in entries()
        if e["msgid"] and (e["fuzzy"] or not any(v for k, v in e.items() if k.startswith("msgstr")))
    ]
    assert missing == []


def test_the_compiled_catalogue_is_the_source_catalogue():
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in entries():
        if not entry["msgid"] or "msgid_plural" in entry or "msgctxt" in entry:
            continue
        assert compiled.gettext(entry["msgid"]) == entry["msgstr"], entry["msgid"]
