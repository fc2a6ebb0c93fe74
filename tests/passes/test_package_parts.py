"""A signed pass stored without its resources (issue 18): `build_pass_parts` keeps pass.json,
manifest.json and signature plus the key of the resource set, and `assemble_pkpass` gives back
byte for byte what `build_pkpass` makes, or None when this process does not know the set."""

from __future__ import annotations

import pytest

from passes import package
from passes.errors import PassValidationError
from passes.package import PassParts, assemble_pkpass, build_pass_parts, build_pkpass, read_pkpass, resources_key
from tests.passes.test_package import FakeSigner, make_pass, resources


def test_assembled_parts_are_the_archive_build_pkpass_makes() -> None:
    parts = build_pass_parts(make_pass(), resources(), FakeSigner())
    whole = build_pkpass(make_pass(), resources(), FakeSigner())  # FakeSigner: the same signature
    assert assemble_pkpass(parts) == whole
    files = read_pkpass(whole)
    assert (parts.pass_json, parts.manifest, parts.signature) == (
        files["pass.json"], files["manifest.json"], files["signature"])
    # the stored form is the card's own members only, and reads back as the same parts
    stored = parts.to_bytes()
    assert len(stored) < len(parts.pass_json) + len(parts.manifest) + len(parts.signature) + 16
    assert PassParts.from_bytes(parts.resources, stored) == parts
    assert assemble_pkpass(PassParts.from_bytes(parts.resources, stored)) == whole


def test_the_key_names_exactly_the_resource_files() -> None:
    key = resources_key(resources())
    assert key == build_pass_parts(make_pass(), resources(), FakeSigner()).resources
    assert key == resources_key(dict(resources()))  # equal files, other objects: the same key
    changed = {**resources(), "strip.png": resources()["strip.png"] + b"!"}
    assert resources_key(changed) != key
    renamed = {("logo.png" if name == "strip.png" else name): data for name, data in resources().items()}
    assert resources_key(renamed) != key


def test_a_process_that_has_not_seen_the_resource_set_gets_none_until_it_builds_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    parts = build_pass_parts(make_pass(), resources(), FakeSigner())
    whole = build_pkpass(make_pass(), resources(), FakeSigner())
    # another process: nothing built yet
    monkeypatch.setattr(package, "_known_resources", {})
    monkeypatch.setattr(package, "_digest_of", {})
    package._cached_resources.cache_clear()
    assert assemble_pkpass(parts) is None
    # other files under the same names do not make the key: still nothing to serve
    other = {**resources(), "icon.png": b"\x89PNG\r\n\x1a\n another icon"}
    assert resources_key(other) != parts.resources and assemble_pkpass(parts) is None
    assert resources_key(resources()) == parts.resources
    assert assemble_pkpass(parts) == whole


def test_an_unknown_key_or_a_foreign_value_is_never_assembled() -> None:
    parts = build_pass_parts(make_pass(), resources(), FakeSigner())
    assert assemble_pkpass(parts._replace(resources="0" * 64)) is None
    for data in (b"", b"PK\x03\x04" + bytes(20), parts.to_bytes()[:12]):
        with pytest.raises(PassValidationError):
            PassParts.from_bytes(parts.resources, data)
