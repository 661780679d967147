"""Downloads from a local HTTP server: mirrors, failures, progress, caching and concurrency.

Most tests serve a tiny fake dataset and pin its hashes in the catalog (so they run without the
real data); the ``real`` tests serve the real MNIST files against the real pinned hashes.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from _httpserver import LocalServer
from _idxfiles import (
    Arrays,
    assert_arrays_equal,
    dataset_arrays,
    fake_arrays,
    pin_hashes,
    real_arrays,
    write_dataset,
)
from kerasdigits.datasets import DatasetError, _verify, dataset_info, load_dataset, load_mnist
from kerasdigits.datasets._catalog import ROLES
from kerasdigits.datasets._download import (
    _Progress,
    download_file,
    max_download_size,
    mirror_url,
)
from kerasdigits.datasets._idx import idx_bytes

FILES = {role: stem + ".gz" for role, stem in ROLES.items()}
REFUSED = "http://127.0.0.1:9/refused/"
TIMEOUT = 1.0


def _cache(name: str = "mnist") -> Path:
    return Path(os.environ["KERASDIGITS_HOME"]) / "datasets" / name


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _part_files() -> list[Path]:
    return [p for p in Path(os.environ["KERASDIGITS_HOME"]).rglob("*") if ".part" in p.name]


def _gz(array: np.ndarray) -> bytes:
    return gzip.compress(idx_bytes(array), mtime=0)


def _flip_middle(raw: bytes) -> bytes:
    """Same length, a few bytes inverted in the middle of the deflate stream."""
    data = bytearray(raw)
    mid = len(data) // 2
    for i in range(mid, min(mid + 4, len(data) - 8)):
        data[i] ^= 0xFF
    return bytes(data)


def _wrong_content(raw: bytes) -> bytes:
    """A valid gzip file of a valid IDX file whose contents differ from the original by a bit."""
    data = bytearray(gzip.decompress(raw))
    data[-1] ^= 0x01
    return gzip.compress(bytes(data), mtime=0)


@functools.cache
def _bomb(role: str, factor: int = 2) -> bytes:
    """A gzip file of a valid IDX header for ``role`` with ``factor`` times MNIST's examples.

    Zeros, so it compresses about a thousandfold: a few kB that expand past the file's size.
    """
    info = dataset_info("mnist")
    count = factor * info.counts[0 if role.startswith("train") else 1]
    shape = (count, 28, 28) if role.endswith("images") else (count,)
    data = idx_bytes(np.zeros(shape, dtype=np.uint8))
    assert len(data) > info.file_size(role)
    return gzip.compress(data, compresslevel=9, mtime=0)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer().start()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Arrays:
    """A tiny dataset whose hashes the catalog pins (for mnist and fashion_mnist)."""
    arrays = fake_arrays(30, 10)
    pin_hashes(monkeypatch, "mnist", arrays)
    pin_hashes(monkeypatch, "fashion_mnist", arrays)
    return arrays


@pytest.fixture
def fake_gz(fake: Arrays) -> dict[str, bytes]:
    return {role: _gz(fake[role]) for role in ROLES}


def _serve(server: LocalServer, prefix: str, files: dict[str, bytes], **kwargs: object) -> str:
    for role, body in files.items():
        server.add(prefix + FILES[role], body, **kwargs)
    return server.url(prefix)


@pytest.fixture
def count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = _verify.sha256_hex

    def counting(data: bytes) -> str:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(_verify, "sha256_hex", counting)
    return calls


# --------------------------------------------------------------------------------------------
# A good mirror


def test_download_into_library_cache(server: LocalServer, fake: Arrays,
                                     fake_gz: dict[str, bytes], count_hashes: list[int]) -> None:
    mirror = _serve(server, "/good/", fake_gz)
    ds = load_mnist(mirrors=[mirror], timeout=TIMEOUT, progress=False)
    assert ds.source.kind == "download"
    assert ds.source.path == _cache()
    assert ds.source.url == mirror
    assert mirror in str(ds.source)
    assert_arrays_equal(dataset_arrays(ds), fake)
    assert _listing(_cache()) == sorted([".lock", *FILES.values()])
    for role, name in FILES.items():
        assert (_cache() / name).read_bytes() == fake_gz[role]
        assert server.requests["/good/" + name] == 1
    assert len(count_hashes) == 4  # checked once while downloading, not again when read
    assert _part_files() == []

    count_hashes.clear()
    again = load_mnist(mirrors=[mirror], timeout=TIMEOUT, progress=False)
    assert (again.source.kind, again.source.path) == ("cache", _cache())
    assert server.count() == 4  # nothing downloaded again
    assert count_hashes == []
    assert_arrays_equal(dataset_arrays(again), fake)


def test_only_missing_files_are_downloaded(server: LocalServer, fake: Arrays,
                                           fake_gz: dict[str, bytes]) -> None:
    write_dataset(_cache(), fake, roles=("train_images", "test_images"))
    mirror = _serve(server, "/good/", fake_gz)
    ds = load_mnist(mirrors=[mirror], timeout=TIMEOUT, progress=False)
    assert ds.source.kind == "download"
    assert dict(server.requests) == {"/good/train-labels-idx1-ubyte.gz": 1,
                                     "/good/t10k-labels-idx1-ubyte.gz": 1}
    assert_arrays_equal(dataset_arrays(ds), fake)


def test_data_dir_that_does_not_exist_is_not_replaced_by_a_download(
    server: LocalServer, fake_gz: dict[str, bytes], tmp_path: Path
) -> None:
    mirror = _serve(server, "/good/", fake_gz)
    with pytest.raises(DatasetError, match="no such folder") as e:
        load_mnist(data_dir=tmp_path / "typo", mirrors=[mirror], progress=False)
    assert str(tmp_path / "typo") in str(e.value)
    assert server.count() == 0
    assert _listing(_cache()) == []


def test_download_false_never_contacts_a_mirror(server: LocalServer,
                                                fake_gz: dict[str, bytes]) -> None:
    mirror = _serve(server, "/good/", fake_gz)
    with pytest.raises(DatasetError, match=r"download: disabled \(download=False\)"):
        load_mnist(mirrors=[mirror], download=False)
    assert server.count() == 0


def test_validation_split_of_a_downloaded_dataset(server: LocalServer,
                                                  fake_gz: dict[str, bytes]) -> None:
    mirror = _serve(server, "/good/", fake_gz)
    ds = load_mnist(mirrors=[mirror], progress=False, validation_size=10, seed=3)
    assert ds.validation is not None
    assert (len(ds.train), len(ds.validation)) == (20, 10)
    assert ds.source.kind == "download"


# --------------------------------------------------------------------------------------------
# Bad mirrors

BAD_VARIANTS = ["404", "truncated", "short", "crc", "flipped", "checksum", "not_idx", "bomb",
                "stall_body", "stall_headers", "refused"]


def _bad_mirror(server: LocalServer, variant: str, files: dict[str, bytes],
                prefix: str = "/bad/", stall_role: str = "train_labels") -> str:
    """A mirror that fails in the way ``variant`` says (stalls only for ``stall_role``)."""
    if variant == "refused":
        return REFUSED
    for role, body in files.items():
        path = prefix + FILES[role]
        if variant == "404":
            pass
        elif variant == "truncated":
            server.add(path, body[: len(body) // 2])
        elif variant == "short":
            server.add(path, body, mode="short")
        elif variant == "crc":
            server.add(path, body[:-8] + bytes(b ^ 0xFF for b in body[-8:-4]) + body[-4:])
        elif variant == "flipped":
            server.add(path, _flip_middle(body))
        elif variant == "checksum":
            server.add(path, _wrong_content(body))
        elif variant == "not_idx":
            server.add(path, b"<html><body>Please log in</body></html>")
        elif variant == "bomb":
            server.add(path, _bomb(role))
        elif role == stall_role:  # the stalls: one file only, to keep the test short
            server.add(path, body, mode=variant)
    return server.url(prefix)


@pytest.mark.parametrize("variant", BAD_VARIANTS)
def test_bad_mirror_falls_through_to_a_good_one(server: LocalServer, fake: Arrays,
                                                fake_gz: dict[str, bytes], variant: str) -> None:
    bad = _bad_mirror(server, variant, fake_gz)
    good = _serve(server, "/good/", fake_gz)
    ds = load_mnist(mirrors=[bad, good], timeout=TIMEOUT, progress=False)
    assert ds.source.kind == "download"
    assert ds.source.url == good
    assert_arrays_equal(dataset_arrays(ds), fake)
    for role, name in FILES.items():
        assert (_cache() / name).read_bytes() == fake_gz[role]
        assert server.requests["/good/" + name] == 1
        if variant != "refused":
            assert server.requests["/bad/" + name] == 1  # each mirror tried once per file
    assert _part_files() == []


ERRORS = {
    "404": r"HTTPError: Not Found",
    "truncated": r"truncated gzip file",
    "short": r"incomplete download \([\d,]+ of [\d,]+ bytes\)",
    "crc": r"corrupt gzip file: CRC check failed",
    "checksum": r"checksum mismatch for mnist train_images",
    "not_idx": r"(not an IDX file|wrong IDX magic)",
    "bomb": r"decompresses to more than 47,040,016 bytes \(from [\d,]+ compressed bytes\)",
    "stall_headers": r"(timed out|TimeoutError)",
    "refused": r"(Connection refused|URLError)",
}


def test_all_mirrors_bad_lists_every_url_and_leaves_nothing(
    server: LocalServer, fake_gz: dict[str, bytes]
) -> None:
    mirrors = [_bad_mirror(server, v, fake_gz, prefix=f"/{v}/", stall_role="train_images")
               for v in ERRORS]
    with pytest.raises(DatasetError) as e:
        load_mnist(mirrors=mirrors, timeout=TIMEOUT, progress=False)
    message = str(e.value)
    assert "dataset 'mnist' not found" in message
    assert "could not download train-images-idx3-ubyte.gz for 'mnist'" in message
    for variant, pattern in ERRORS.items():
        url = mirror_url(mirrors[list(ERRORS).index(variant)], "mnist", FILES["train_images"])
        lines = [line for line in message.splitlines() if line.strip().startswith(url + ":")]
        assert len(lines) == 1, (variant, message)
        assert re.search(pattern, lines[0]), (variant, lines[0])
    # No final file and no temporary file; only the (empty) lock file of the cache folder.
    assert _listing(_cache()) in ([], [".lock"])
    assert _part_files() == []
    assert not (Path(os.environ["KERASDIGITS_HOME"]) / "verified.json").exists()


def test_failure_keeps_completed_files_and_resumes(server: LocalServer, fake: Arrays,
                                                   fake_gz: dict[str, bytes]) -> None:
    # The first mirror has the images only; the labels fail everywhere.
    images_only = _serve(server, "/img/", {r: b for r, b in fake_gz.items() if "images" in r})
    with pytest.raises(DatasetError, match=r"could not download train-labels-idx1-ubyte\.gz"):
        load_mnist(mirrors=[images_only, REFUSED], timeout=TIMEOUT, progress=False)
    assert _listing(_cache()) == [".lock", FILES["train_images"]]
    assert (_cache() / FILES["train_images"]).read_bytes() == fake_gz["train_images"]
    good = _serve(server, "/good/", fake_gz)
    ds = load_mnist(mirrors=[good], timeout=TIMEOUT, progress=False)
    assert server.requests["/good/" + FILES["train_images"]] == 0
    assert server.count("/good/") == 3
    assert_arrays_equal(dataset_arrays(ds), fake)


# --------------------------------------------------------------------------------------------
# Hostile mirrors: bombs and endless files


def test_gzip_bomb_stops_at_the_files_size(server: LocalServer, tmp_path: Path) -> None:
    role = "test_labels"
    info = dataset_info("mnist")
    bomb = _bomb(role, factor=4000)  # 40 MB of zeros in about 40 kB
    assert len(bomb) < max_download_size(info, role)
    url = server.add("/bomb/" + FILES[role], bomb)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError) as e:
            download_file(info, role, tmp_path, [server.url("/bomb/")], timeout=TIMEOUT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = (f"{url}: DatasetError: decompresses to more than 10,008 bytes (from "
                f"{len(bomb):,} compressed bytes), the size of mnist test_labels: stopped "
                "reading; the file is corrupt or a decompression bomb")
    assert expected in str(e.value)
    assert peak < 5_000_000  # not the 40 MB the bomb expands to
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("mode", ["ok", "no_length"])
def test_download_larger_than_the_file_can_be_is_stopped(server: LocalServer, tmp_path: Path,
                                                         mode: str) -> None:
    role = "test_labels"
    info = dataset_info("mnist")
    limit = max_download_size(info, role)
    assert limit == 10_008 + 100 + 65_536
    url = server.add("/huge/" + FILES[role], b"\x00" * (3 * limit), mode=mode)
    with pytest.raises(DatasetError) as e:
        download_file(info, role, tmp_path, [server.url("/huge/")], timeout=TIMEOUT)
    if mode == "ok":  # refused from the Content-Length header, before reading the body
        expected = f"the server announces {3 * limit:,} bytes"
    else:
        expected = "download stopped after more than"
    assert f"{url}: DatasetError: {expected}" in str(e.value)
    assert f"more than the {limit:,} bytes mnist test_labels can take" in str(e.value)
    assert _listing(tmp_path) == []


def test_no_mirrors_configured() -> None:
    with pytest.raises(DatasetError, match="no mirrors configured"):
        load_mnist(mirrors=[], progress=False)


def test_default_mirrors_are_used_without_mirrors_argument(server: LocalServer,
                                                           fake_gz: dict[str, bytes]) -> None:
    # The conftest replaced the defaults with an unreachable address: they are tried and fail.
    with pytest.raises(DatasetError) as e:
        load_mnist(timeout=TIMEOUT, progress=False)
    assert dataset_info("mnist").mirrors[0] + FILES["train_images"] in str(e.value)


# --------------------------------------------------------------------------------------------
# Choosing mirrors


def test_mirror_url() -> None:
    assert mirror_url("https://a.org/mnist/", "mnist", "x.gz") == "https://a.org/mnist/x.gz"
    assert mirror_url("https://a.org/mnist", "mnist", "x.gz") == "https://a.org/mnist/x.gz"
    assert mirror_url("https://a.org/{dataset}/", "fashion_mnist", "x.gz") == (
        "https://a.org/fashion_mnist/x.gz")
    assert mirror_url("https://a.org/x.gz", "mnist", "x.gz") == "https://a.org/x.gz"


@pytest.mark.parametrize(("mirror", "url"), [
    ("https://a.org/mnist/?token=abc", "https://a.org/mnist/x.gz?token=abc"),
    ("https://a.org/mnist?token=abc&b=1", "https://a.org/mnist/x.gz?token=abc&b=1"),
    ("https://a.org/{dataset}/?d={dataset}", "https://a.org/mnist/x.gz?d=mnist"),
    ("https://a.org/mnist/x.gz?token=abc", "https://a.org/mnist/x.gz?token=abc"),
    ("https://a.org?token=abc", "https://a.org/x.gz?token=abc"),
    ("https://a.org/mnist/#frag", "https://a.org/mnist/x.gz#frag"),
    ("https://a.org/x.gz.d/?q=x.gz", "https://a.org/x.gz.d/x.gz?q=x.gz"),
    ("https://a.org/old-x.gz", "https://a.org/old-x.gz/x.gz"),
])
def test_mirror_url_keeps_the_query(mirror: str, url: str) -> None:
    assert mirror_url(mirror, "mnist", "x.gz") == url


def test_download_from_a_mirror_with_a_query(server: LocalServer, fake: Arrays,
                                             fake_gz: dict[str, bytes]) -> None:
    for role, body in fake_gz.items():
        server.add(f"/signed/{FILES[role]}?token=s3cr3t", body)
    ds = load_mnist(mirrors=[server.url("/signed/?token=s3cr3t")], timeout=TIMEOUT,
                    progress=False)
    assert ds.source.kind == "download"
    assert server.count("/signed/") == 4
    assert_arrays_equal(dataset_arrays(ds), fake)


def test_env_mirror_with_placeholder(server: LocalServer, fake: Arrays,
                                     fake_gz: dict[str, bytes],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(server, "/env/fashion_mnist/", fake_gz)
    template = server.url("/env/{dataset}/")
    monkeypatch.setenv("KERASDIGITS_MIRROR", f"{REFUSED}, {template}")
    ds = load_dataset("fashion-mnist", timeout=TIMEOUT, progress=False)
    assert ds.source.kind == "download"
    assert ds.source.path == _cache("fashion_mnist")
    assert ds.source.url is not None
    assert ds.source.url.startswith(server.url("/env/"))
    assert server.count("/env/fashion_mnist/") == 4
    assert_arrays_equal(dataset_arrays(ds), fake)


def test_mirrors_argument_replaces_env_mirror(server: LocalServer, fake_gz: dict[str, bytes],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    env = _serve(server, "/env/", fake_gz)
    arg = _serve(server, "/arg/", fake_gz)
    monkeypatch.setenv("KERASDIGITS_MIRROR", env)
    ds = load_mnist(mirrors=(arg,), timeout=TIMEOUT, progress=False)
    assert ds.source.url == arg
    assert server.count("/env/") == 0
    assert server.count("/arg/") == 4


def test_env_mirror_replaces_the_defaults(server: LocalServer, fake_gz: dict[str, bytes],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASDIGITS_MIRROR", server.url("/env/"))
    with pytest.raises(DatasetError) as e:
        load_mnist(timeout=TIMEOUT, progress=False)
    assert "127.0.0.1:9" not in str(e.value)  # the default (conftest) mirror was not tried
    assert server.requests["/env/" + FILES["train_images"]] == 1


# --------------------------------------------------------------------------------------------
# Progress


def test_progress_on_stderr(server: LocalServer, fake_gz: dict[str, bytes],
                            capsys: pytest.CaptureFixture[str]) -> None:
    mirror = _serve(server, "/good/", fake_gz)
    load_mnist(mirrors=[mirror], timeout=TIMEOUT)
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    for name in FILES.values():
        assert f"Downloading {mirror}{name}\n" in err
    for role in ("train_labels", "test_labels"):
        size = len(fake_gz[role])
        assert size < 1000
        assert f"{FILES[role]}: {size} B/{size} B (100%) done in" in err
    kb = len(fake_gz["train_images"]) / 1000
    assert 1 < kb < 1000
    assert f"train-images-idx3-ubyte.gz: {kb:.1f} kB/{kb:.1f} kB (100%) done in" in err


def test_progress_false_is_silent(server: LocalServer, fake_gz: dict[str, bytes],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    mirror = _serve(server, "/good/", fake_gz)
    bad = _bad_mirror(server, "404", fake_gz)
    ds = load_mnist(mirrors=[bad, mirror], timeout=TIMEOUT, progress=False)
    assert ds.source.kind == "download"
    assert capsys.readouterr() == ("", "")


def test_progress_reports_failures(server: LocalServer, fake_gz: dict[str, bytes],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad_mirror(server, "short", fake_gz)
    good = _serve(server, "/good/", fake_gz)
    load_mnist(mirrors=[bad, good], timeout=TIMEOUT)
    err = capsys.readouterr().err
    assert f"Downloading {bad}{FILES['train_labels']}" in err
    assert re.search(r"train-labels-idx1-ubyte\.gz: \d+ B/\d+ B \( 50%\) failed", err)


def test_progress_without_content_length(server: LocalServer, fake: Arrays,
                                         fake_gz: dict[str, bytes],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    mirror = _serve(server, "/good/", fake_gz, mode="no_length")
    ds = load_mnist(mirrors=[mirror], timeout=TIMEOUT)
    assert_arrays_equal(dataset_arrays(ds), fake)
    err = capsys.readouterr().err
    size = len(fake_gz["test_labels"])
    assert f"t10k-labels-idx1-ubyte.gz: {size} B done in" in err
    assert "%" not in err


def test_progress_lines_in_quarters_with_readable_sizes() -> None:
    stream = io.StringIO()
    bar = _Progress("train-images-idx3-ubyte.gz", 9_912_422, stream)
    for done in range(0, 9_912_422, 65536):
        bar.update(done)
    bar.update(9_912_422)
    bar.close(9_912_422, ok=True)
    lines = stream.getvalue().splitlines()
    assert [re.search(r"\(\s*(\d+)%\)", line).group(1) for line in lines] == (  # type: ignore[union-attr]
        ["0", "25", "50", "75", "100", "100"])
    assert lines[-2] == "  train-images-idx3-ubyte.gz: 9.9 MB/9.9 MB (100%)"
    assert lines[-1].startswith("  train-images-idx3-ubyte.gz: 9.9 MB/9.9 MB (100%) done in ")
    small = io.StringIO()
    bar = _Progress("train-labels-idx1-ubyte.gz", 28_881, small)
    bar.update(28_881)
    assert small.getvalue() == "  train-labels-idx1-ubyte.gz: 28.9 kB/28.9 kB (100%)\n"


def test_progress_on_a_terminal_rewrites_one_line() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = _Progress("x.gz", 2000, stream)
    bar.update(1000)
    bar.update(2000)
    bar.close(2000, ok=True)
    text = stream.getvalue()
    assert text.startswith("\r  x.gz: 1.0 kB/2.0 kB ( 50%)\r  x.gz: 2.0 kB/2.0 kB (100%)")
    assert text.count("\n") == 1
    assert text.endswith("\n")


# --------------------------------------------------------------------------------------------
# download_file directly


def test_download_file_returns_path_and_mirror(server: LocalServer, fake_gz: dict[str, bytes],
                                               tmp_path: Path) -> None:
    good = _serve(server, "/good/", fake_gz)
    info = dataset_info("mnist")
    path, mirror = download_file(info, "test_labels", tmp_path / "dest", [REFUSED, good],
                                 timeout=TIMEOUT)
    assert (path, mirror) == (tmp_path / "dest" / FILES["test_labels"], good)
    assert path.read_bytes() == fake_gz["test_labels"]
    assert _verify.is_verified(path, info.sha256["test_labels"])


def test_download_file_runs_the_extra_validation(server: LocalServer, fake_gz: dict[str, bytes],
                                                 tmp_path: Path) -> None:
    good = _serve(server, "/good/", fake_gz)

    def reject(data: bytes, url: str) -> None:
        raise DatasetError(f"{url}: rejected")

    with pytest.raises(DatasetError, match="rejected"):
        download_file(dataset_info("mnist"), "test_labels", tmp_path, [good], validate=reject)
    assert _listing(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Two processes at once

_CONCURRENT_SCRIPT = r"""
import dataclasses, json, sys
from kerasdigits.datasets import _catalog, load_dataset
mirror, hashes = sys.argv[1], sys.argv[2]
if hashes:
    info = _catalog.DATASETS["mnist"]
    _catalog.DATASETS["mnist"] = dataclasses.replace(info, sha256=json.loads(hashes))
ds = load_dataset("mnist", mirrors=[mirror], timeout=20, progress=False)
print(ds.source.kind, len(ds.train), len(ds.test))
"""


def _real_mnist_gz(real_data_dir: Path) -> dict[str, bytes]:
    return {role: (real_data_dir / "mnist" / name).read_bytes() for role, name in FILES.items()}


@pytest.mark.parametrize("data", ["fake", pytest.param("real", marks=pytest.mark.realdata)])
def test_two_processes_download_at_once(server: LocalServer, data: str,
                                        request: pytest.FixtureRequest) -> None:
    if data == "real":
        files = _real_mnist_gz(request.getfixturevalue("real_data_dir"))
        hashes, counts = "", (60_000, 10_000)
    else:
        arrays = fake_arrays(30, 10)
        files = {role: _gz(arrays[role]) for role in ROLES}
        hashes = json.dumps({r: hashlib.sha256(idx_bytes(arrays[r])).hexdigest() for r in ROLES})
        counts = (30, 10)
    # A slow mirror, so that the second process arrives while the first is downloading.
    mirror = _serve(server, "/slow/", files, delay=0.3)
    procs = [
        subprocess.Popen([sys.executable, "-c", _CONCURRENT_SCRIPT, mirror, hashes],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=90)
            results.append((proc.returncode, out.split(), err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for returncode, out, err in results:
        assert returncode == 0, err
        assert out[0] in ("download", "cache")
        assert (int(out[1]), int(out[2])) == counts
    # The lock serializes the two: each file was downloaded exactly once.
    assert {name: server.requests["/slow/" + name] for name in FILES.values()} == dict.fromkeys(
        FILES.values(), 1)
    assert sorted(n for n in _listing(_cache()) if not n.startswith(".")) == sorted(FILES.values())
    assert _part_files() == []
    # The cache files verify afterwards, hashed from scratch.
    expected = json.loads(hashes) if hashes else dataset_info("mnist").sha256
    for role, name in FILES.items():
        raw = (_cache() / name).read_bytes()
        assert raw == files[role]
        assert hashlib.sha256(gzip.decompress(raw)).hexdigest() == expected[role]


# --------------------------------------------------------------------------------------------
# The real files against the real pinned hashes


@pytest.mark.realdata
def test_real_download_equals_real_data(server: LocalServer, real_data_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    files = _real_mnist_gz(real_data_dir)
    mirror = _serve(server, "/real/mnist/", files)
    ds = load_mnist(mirrors=[server.url("/real/{dataset}/")], timeout=TIMEOUT)
    assert ds.source.kind == "download"
    assert (len(ds.train), len(ds.test)) == (60_000, 10_000)
    assert_arrays_equal(dataset_arrays(ds), real_arrays(real_data_dir / "mnist"))
    for role, name in FILES.items():
        assert (_cache() / name).read_bytes() == files[role]
    err = capsys.readouterr().err
    assert f"Downloading {mirror}train-labels-idx1-ubyte.gz" in err
    assert "train-labels-idx1-ubyte.gz: 28.9 kB/28.9 kB (100%) done in" in err
    quarter = r"train-images-idx3-ubyte\.gz: 2\.\d MB/9\.7 MB \( 2\d%\)\n"
    assert re.search(quarter, err), err
    again = load_mnist(mirrors=[mirror], timeout=TIMEOUT)
    assert again.source.kind == "cache"
    assert server.count() == 4


@pytest.mark.realdata
def test_real_bad_mirror_falls_through(server: LocalServer, real_data_dir: Path) -> None:
    files = _real_mnist_gz(real_data_dir)
    good = _serve(server, "/good/", files)
    server.add("/bad/" + FILES["train_labels"], _flip_middle(files["train_labels"]))
    server.add("/bad/" + FILES["test_labels"], _wrong_content(files["test_labels"]))
    server.add("/bad/" + FILES["test_images"],
               files["test_images"][: len(files["test_images"]) - 1000])
    ds = load_mnist(mirrors=[server.url("/bad/"), good], timeout=TIMEOUT, progress=False)
    assert ds.source.url == good
    assert_arrays_equal(dataset_arrays(ds), real_arrays(real_data_dir / "mnist"))
    assert server.count("/bad/") == 4
    assert server.count("/good/") == 4
    for role, name in FILES.items():
        assert (_cache() / name).read_bytes() == files[role]


@pytest.mark.realdata
def test_real_corrupted_mirror_only(server: LocalServer, real_data_dir: Path) -> None:
    files = _real_mnist_gz(real_data_dir)
    server.add("/bad/" + FILES["train_images"], files["train_images"])  # this one is fine
    server.add("/bad/" + FILES["train_labels"], _wrong_content(files["train_labels"]))
    with pytest.raises(DatasetError) as e:
        load_mnist(mirrors=[server.url("/bad/")], timeout=TIMEOUT, progress=False)
    pinned = dataset_info("mnist").sha256["train_labels"]
    assert "checksum mismatch for mnist train_labels" in str(e.value)
    assert f"expected {pinned}" in str(e.value)
    assert _listing(_cache()) == [".lock", FILES["train_images"]]
    assert _part_files() == []
