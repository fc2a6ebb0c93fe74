"""pass.strings: syntax, escaping, encoding and lproj folder names."""

from __future__ import annotations

import codecs

import pytest

from passes.errors import PassValidationError
from passes.localization import lproj_files, parse_strings, strings_file


def test_strings_file_is_utf16le_with_bom_and_sorted() -> None:
    data = strings_file({"points": "Баллы", "balance": "Solde"})
    assert data.startswith(codecs.BOM_UTF16_LE)
    assert data[2:].decode("utf-16-le") == '"balance" = "Solde";\n"points" = "Баллы";\n'


def test_escaping_of_quotes_backslashes_and_newlines() -> None:
    text = strings_file({'say "hi"': 'C:\\path\nnext\tcol\r"end"'})[2:].decode("utf-16-le")
    assert text == '"say \\"hi\\"" = "C:\\\\path\\nnext\\tcol\\r\\"end\\"";\n'


def test_other_control_characters_use_unicode_escapes() -> None:
    text = strings_file({"k": "a\x01b\x7f"})[2:].decode("utf-16-le")
    assert text == '"k" = "a\\U0001b\\U007f";\n'


@pytest.mark.parametrize(
    "mapping",
    [
        {"plain": "value"},
        {'"quoted"': '"both" \\ ends \\'},
        {"multi": "line one\nline two\r\n\ttabbed", "empty": ""},
        {"emoji 🎉": "Ёлка «ёлочка» 🎄", "%@ points": "%@ баллов"},
        {"ctrl": "\x00\x01\x1f", "=;/* not a comment */": "// nor this"},
    ],
)
def test_round_trip(mapping: dict[str, str]) -> None:
    assert parse_strings(strings_file(mapping)) == mapping


def test_parse_accepts_utf8_comments_and_blank_lines() -> None:
    source = b'/* header */\n\n"a" = "1"; // trailing\n  "b"="two \\"2\\"" ;\n'
    assert parse_strings(source) == {"a": "1", "b": 'two "2"'}
    assert parse_strings(codecs.BOM_UTF8 + b'"x" = "y";') == {"x": "y"}
    assert parse_strings(b"") == {}


@pytest.mark.parametrize(
    ("source", "path"),
    [
        (b'"a" = "1"', "pass.strings:1"),  # no semicolon
        (b'"a" = "1;\n', "pass.strings:2"),  # unterminated string
        (b'"a" "1";', "pass.strings:1"),
        (b'"a" = "1";\n"a" = "2";', "pass.strings:2"),  # duplicate
        (b'"a" = "\\q";', "pass.strings:1"),
        (b"/* never closed", "pass.strings:1"),
        (b"a = b;", "pass.strings:1"),
        (b'"a" = "\xff";', "pass.strings"),  # not UTF-8
    ],
)
def test_parse_errors_name_the_line(source: bytes, path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        parse_strings(source)
    assert excinfo.value.path == path


@pytest.mark.parametrize(
    ("mapping", "path"),
    [
        ({"": "x"}, "pass.strings"),
        ({1: "x"}, "pass.strings"),
        ({"k": 1}, "pass.strings['k']"),
        ({"k": None}, "pass.strings['k']"),
        (["k", "v"], "pass.strings"),
    ],
)
def test_strings_file_refuses_non_strings(mapping: object, path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        strings_file(mapping)  # type: ignore[arg-type]
    assert excinfo.value.path == path


def test_lproj_files_names() -> None:
    files = lproj_files({"en": {"Points": "Points"}, "ru": {"Points": "Баллы"}, "pt-BR": {}, "zh-Hans": {}})
    assert sorted(files) == [
        "en.lproj/pass.strings",
        "pt-BR.lproj/pass.strings",
        "ru.lproj/pass.strings",
        "zh-Hans.lproj/pass.strings",
    ]
    assert parse_strings(files["ru.lproj/pass.strings"]) == {"Points": "Баллы"}


@pytest.mark.parametrize("code", ["es-419", "zh_Hant_TW", "fil", "en_GB"])
def test_lproj_accepts_regional_codes(code: str) -> None:
    assert list(lproj_files({code: {"a": "b"}})) == [f"{code}.lproj/pass.strings"]


@pytest.mark.parametrize("code", ["english", "EN", "e", "en-gb", "../en", "en/ru", "", "en.lproj", "Base"])
def test_lproj_refuses_bad_language_codes(code: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        lproj_files({code: {"a": "b"}})
    assert excinfo.value.path == f"{code}.lproj"


def test_lproj_errors_name_the_file() -> None:
    with pytest.raises(PassValidationError) as excinfo:
        lproj_files({"ru": {"Points": 5}})
    assert excinfo.value.path == "ru.lproj/pass.strings['Points']"
