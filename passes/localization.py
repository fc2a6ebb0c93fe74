"""``xx.lproj/pass.strings`` files: translations Wallet applies on the phone.

pass.json keeps one language; Wallet looks each label, value and changeMessage up as a
key in the pass.strings of the phone's preferred language that the pass carries.

Encoding: UTF-16 little-endian with a byte-order mark. It is the encoding Apple documents
for strings files and the one every iOS version since Passbook reads; the BOM leaves the
parser nothing to guess. UTF-8 also loads on current iOS, but nothing documents it for
Wallet, and the doubled size costs nothing here (a few hundred bytes, deflated in the
zip). ``parse_strings`` reads both, for files brands upload.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

from passes.errors import PassValidationError

__all__ = ["STRINGS_FILE", "lproj_files", "parse_strings", "strings_file"]

STRINGS_FILE = "pass.strings"
# language, optional script, optional region: en, pt-BR, zh-Hans, zh_Hant_TW, es-419
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Z][a-z]{3})?(?:[-_](?:[A-Z]{2}|[0-9]{3}))?")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "'": "'"}


def _escape(text: str) -> str:
    """Quote for a strings file; other control characters become \\Uxxxx escapes."""
    return "".join(
        _ESCAPES.get(char) or (f"\\U{ord(char):04x}" if ord(char) < 0x20 or ord(char) == 0x7F else char)
        for char in text
    )


def strings_file(mapping: Mapping[str, str], *, path: str = STRINGS_FILE) -> bytes:
    """Serialise ``{"key": "translation"}``, sorted so equal input gives equal bytes."""
    if not isinstance(mapping, Mapping):
        raise PassValidationError(path, "must be a mapping of strings")
    lines = []
    for key in sorted(mapping, key=str):
        value = mapping[key]
        if not isinstance(key, str) or not key:
            raise PassValidationError(path, f"key {key!r} must be a non-empty string")
        if not isinstance(value, str):
            raise PassValidationError(f"{path}[{key!r}]", "must be a string")
        lines.append(f'"{_escape(key)}" = "{_escape(value)}";\n')
    return codecs.BOM_UTF16_LE + "".join(lines).encode("utf-16-le")


def lproj_files(translations: Mapping[str, Mapping[str, str]]) -> dict[str, bytes]:
    """``{"en": {...}}`` -> ``{"en.lproj/pass.strings": bytes}``.

    A malformed folder name is not an error on the phone, just a language Wallet never
    picks, so it is refused here.
    """
    if not isinstance(translations, Mapping):
        raise PassValidationError("lproj", "must map language codes to translations")
    files = {}
    for language, mapping in translations.items():
        if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
            raise PassValidationError(f"{language}.lproj", "not a language code such as en, pt-BR or zh-Hans")
        name = f"{language}.lproj/{STRINGS_FILE}"
        files[name] = strings_file(mapping, path=name)
    return files


def _decode(data: bytes, path: str) -> str:
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PassValidationError(path, f"neither UTF-16 with a BOM nor UTF-8: {exc}") from exc


class _Reader:
    """Just enough of the old-style plist grammar for ``"key" = "value";`` files."""

    def __init__(self, text: str, path: str) -> None:
        self.text, self.pos, self.path = text, 0, path

    def fail(self, rule: str) -> PassValidationError:
        line = self.text.count("\n", 0, self.pos) + 1
        return PassValidationError(f"{self.path}:{line}", rule)

    def skip_blank(self) -> None:
        while self.pos < len(self.text):
            if self.text[self.pos].isspace():
                self.pos += 1
            elif self.text.startswith("/*", self.pos):
                end = self.text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated comment")
                self.pos = end + 2
            elif self.text.startswith("//", self.pos):
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end + 1
            else:
                return

    def expect(self, char: str) -> None:
        self.skip_blank()
        if not self.text.startswith(char, self.pos):
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def quoted(self) -> str:
        self.expect('"')
        out = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                out.append(self.escape())
            else:
                out.append(char)
        raise self.fail("unterminated string")

    def escape(self) -> str:
        char = self.text[self.pos : self.pos + 1]
        self.pos += 1
        if char in _UNESCAPES:
            return _UNESCAPES[char]
        if char in ("U", "u"):
            digits = self.text[self.pos : self.pos + 4]
            if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                self.pos += 4
                return chr(int(digits, 16))
        raise self.fail(f"unknown escape \\{char}")


def parse_strings(data: bytes, *, path: str = STRINGS_FILE) -> dict[str, str]:
    """Read a strings file (UTF-16 with BOM or UTF-8); duplicate keys are refused."""
    reader = _Reader(_decode(data, path), path)
    result: dict[str, str] = {}
    reader.skip_blank()
    while reader.pos < len(reader.text):
        key = reader.quoted()
        reader.expect("=")
        value = reader.quoted()
        reader.expect(";")
        if key in result:
            raise reader.fail(f"duplicate key {key!r}")
        result[key] = value
        reader.skip_blank()
    return result
