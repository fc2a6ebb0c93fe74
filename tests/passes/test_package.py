"""The .pkpass container: contents, manifest, signature hand-off, zip layout, reading back."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile

import pytest

from passes import package
from passes.errors import PassValidationError
from passes.package import PKPASS_MEDIA_TYPE, build_pkpass, check_manifest, read_pkpass
from passes.schema import Field, Pass, StoreCard

ICON = b"\x89PNG\r\n\x1a\n fake icon"
STRIP = b"\x89PNG\r\n\x1a\n fake strip"
STRINGS = b"\xff\xfe" + '"Points" = "Баллы";\n'.encode("utf-16-le")


class FakeSigner:
    """Stands in for passes.signing.PassSigner (tested on its own): records what it signs."""

    def __init__(self) -> None:
        self.signed: list[bytes] = []

    def sign(self, data: bytes) -> bytes:
        self.signed.append(data)
        return b"SIGNED:" + hashlib.sha256(data).digest()


def make_pass() -> Pass:
    return Pass(
        pass_type_identifier="pass.com.example.loyalty",
        team_identifier="ABCDE12345",
        serial_number="card-0001",
        organization_name="Demo Coffee",
        description="Demo Coffee loyalty card",
        store_card=StoreCard(primary_fields=(Field("balance", 120, change_message="Now %@"),)),
    )


def resources() -> dict[str, bytes]:
    return {"icon.png": ICON, "icon@2x.png": ICON + b"2", "strip.png": STRIP, "ru.lproj/pass.strings": STRINGS}


@pytest.fixture
def built() -> tuple[bytes, FakeSigner]:
    signer = FakeSigner()
    return build_pkpass(make_pass(), resources(), signer), signer


def test_media_type() -> None:
    assert PKPASS_MEDIA_TYPE == "application/vnd.apple.pkpass"


def test_pkpass_contents(built: tuple[bytes, FakeSigner]) -> None:
    data, signer = built
    files = read_pkpass(data)
    assert sorted(files) == sorted([*resources(), "pass.json", "manifest.json", "signature"])
    assert files["pass.json"] == make_pass().to_json_bytes()
    for name, content in resources().items():
        assert files[name] == content
    manifest = json.loads(files["manifest.json"])
    assert manifest == {
        name: hashlib.sha1(content).hexdigest()
        for name, content in files.items()
        if name not in ("manifest.json", "signature")
    }
    assert signer.signed == [files["manifest.json"]]
    assert files["signature"] == b"SIGNED:" + hashlib.sha256(files["manifest.json"]).digest()
    check_manifest(files)


def test_compression_per_file_type(built: tuple[bytes, FakeSigner]) -> None:
    with zipfile.ZipFile(io.BytesIO(built[0])) as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
    for name in ("icon.png", "strip.png", "pass.json", "manifest.json", "signature"):
        assert kinds[name] == zipfile.ZIP_STORED
    assert kinds["ru.lproj/pass.strings"] == zipfile.ZIP_DEFLATED


def test_identical_input_gives_identical_bytes(built: tuple[bytes, FakeSigner]) -> None:
    assert build_pkpass(make_pass(), resources(), FakeSigner()) == built[0]


def test_missing_icon_is_refused() -> None:
    files = resources()
    del files["icon.png"]
    with pytest.raises(PassValidationError) as excinfo:
        build_pkpass(make_pass(), files, FakeSigner())
    assert excinfo.value.path == "icon.png"
    assert excinfo.value.rule == "missing: Wallet shows it in notifications"


@pytest.mark.parametrize(
    "name",
    [
        "/etc/passwd",
        "../icon2.png",
        "en.lproj/../../x.png",
        "./icon2.png",
        "a//b.png",
        "dir/",
        "a\\b.png",
        "C:/x.png",
        "pass.json",
        "manifest.json",
        "signature",
    ],
)
def test_unsafe_or_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        build_pkpass(make_pass(), {**resources(), name: b"x"}, FakeSigner())
    assert excinfo.value.path == name


def test_empty_name_and_non_bytes_are_refused() -> None:
    with pytest.raises(PassValidationError):
        build_pkpass(make_pass(), {**resources(), "": b"x"}, FakeSigner())
    with pytest.raises(PassValidationError) as excinfo:
        build_pkpass(make_pass(), {**resources(), "logo.png": "text"}, FakeSigner())  # type: ignore[dict-item]
    assert excinfo.value.path == "logo.png"


def test_signer_must_return_bytes() -> None:
    class Broken:
        def sign(self, data: bytes) -> bytes:
            return b""

    with pytest.raises(PassValidationError) as excinfo:
        build_pkpass(make_pass(), resources(), Broken())
    assert excinfo.value.path == "signature"


# --- check_manifest (pitfall 3) --------------------------------------------------------------


def test_file_missing_from_manifest_is_named(built: tuple[bytes, FakeSigner]) -> None:
    files = read_pkpass(built[0])
    files["logo.png"] = b"added after signing"
    with pytest.raises(PassValidationError) as excinfo:
        check_manifest(files)
    assert excinfo.value.path == "logo.png"
    assert "missing from manifest" in excinfo.value.rule


def test_hash_mismatch_is_named(built: tuple[bytes, FakeSigner]) -> None:
    files = read_pkpass(built[0])
    files["strip.png"] = STRIP + b"!"
    with pytest.raises(PassValidationError) as excinfo:
        check_manifest(files)
    assert excinfo.value.path == "strip.png"
    assert "SHA-1" in excinfo.value.rule


def test_listed_but_absent_file_is_named(built: tuple[bytes, FakeSigner]) -> None:
    files = read_pkpass(built[0])
    del files["ru.lproj/pass.strings"]
    with pytest.raises(PassValidationError) as excinfo:
        check_manifest(files)
    assert excinfo.value.path == "ru.lproj/pass.strings"


def test_uppercase_hashes_are_accepted(built: tuple[bytes, FakeSigner]) -> None:
    files = read_pkpass(built[0])
    manifest = {name: digest.upper() for name, digest in json.loads(files["manifest.json"]).items()}
    files["manifest.json"] = json.dumps(manifest).encode()
    check_manifest(files)


@pytest.mark.parametrize(
    ("manifest", "path"),
    [
        (None, "manifest.json"),
        (b"{not json", "manifest.json"),
        (b'["pass.json"]', "manifest.json"),
        (b'{"pass.json": 1}', "manifest.json"),
        (b'{"signature": "00"}', "signature"),
    ],
)
def test_broken_manifest(built: tuple[bytes, FakeSigner], manifest: bytes | None, path: str) -> None:
    files = read_pkpass(built[0])
    if manifest is None:
        del files["manifest.json"]
    else:
        files["manifest.json"] = manifest
    with pytest.raises(PassValidationError) as excinfo:
        check_manifest(files)
    assert excinfo.value.path == path


# --- read_pkpass ----------------------------------------------------------------------------


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate on purpose
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


def test_read_refuses_garbage() -> None:
    with pytest.raises(PassValidationError) as excinfo:
        read_pkpass(b"PK not really")
    assert excinfo.value.path == "pkpass"


def test_read_refuses_path_traversal_and_duplicates() -> None:
    with pytest.raises(PassValidationError) as excinfo:
        read_pkpass(zip_of([("../evil.png", b"x")]))
    assert excinfo.value.path == "../evil.png"
    with pytest.raises(PassValidationError) as excinfo:
        read_pkpass(zip_of([("icon.png", b"a"), ("icon.png", b"b")]))
    assert excinfo.value.path == "icon.png"


def test_read_skips_directories_and_limits_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_pkpass(zip_of([("en.lproj/", b""), ("en.lproj/pass.strings", b"x")])) == {"en.lproj/pass.strings": b"x"}
    monkeypatch.setattr(package, "MAX_PKPASS_SIZE", 10)
    with pytest.raises(PassValidationError) as excinfo:
        read_pkpass(zip_of([("icon.png", b"x" * 11)]))
    assert excinfo.value.path == "pkpass"


def test_the_archive_is_the_one_zipfile_writes(built: tuple[bytes, FakeSigner]) -> None:
    """build_pkpass writes the zip itself, from cached resource blocks; zipfile (package._zip)
    is the reference: the same members in the same order give the same bytes."""
    with zipfile.ZipFile(io.BytesIO(built[0])) as archive:
        names = [info.filename for info in archive.infolist()]
        contents = {name: archive.read(name) for name in names}
    assert names == ["pass.json", *sorted(resources()), "manifest.json", "signature"]
    assert package._zip(contents) == built[0]  # noqa: SLF001


def test_resources_given_as_bytearray_are_not_cached_but_packed_alike(built: tuple[bytes, FakeSigner]) -> None:
    files = {name: bytearray(data) for name, data in resources().items()}
    assert build_pkpass(make_pass(), files, FakeSigner()) == built[0]
