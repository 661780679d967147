"""kerasdigits serve: the JSON API, the page's files, the LiteRT and Keras backends, the CLI.

Most tests use Starlette's TestClient on the app (no network); the concurrency test and the
command-line tests run a real uvicorn server on a free port of 127.0.0.1.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest

import kerasdigits
from _serve_fixtures import ServedModels, photo_png, served_models
from kerasdigits.serve import (
    DEFAULT_HOST,
    KerasClassifier,
    LiteRTClassifier,
    ModelLoadError,
    ServeError,
    create_app,
    load_classifier,
    start_server,
)

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 for its TestClient
    warnings.filterwarnings("ignore", message=".*httpx2")
    from starlette.testclient import TestClient

__all__ = ["served_models"]  # the shared fixture, imported for pytest to find

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client(served_models: ServedModels) -> Iterator[TestClient]:
    with TestClient(create_app(served_models.float_tflite)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def int8_client(served_models: ServedModels) -> Iterator[TestClient]:
    with TestClient(create_app(served_models.int8_tflite)) as test_client:
        yield test_client


def _pixels(client: TestClient, images: np.ndarray) -> list[dict[str, Any]]:
    answers = []
    for image in images:
        response = client.post("/api/predict", json={"image": image.tolist()})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert isinstance(message, str) and message and "\n" not in message
    assert "Traceback" not in response.text
    return message


# ----------------------------------------------------------------------------- importing


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_importing_kerasdigits_serve_imports_no_server_and_no_tensorflow() -> None:
    out = _python("import sys, kerasdigits.serve; print(sorted(m for m in ('starlette', "
                  "'uvicorn', 'tensorflow', 'keras', 'PIL') if m in sys.modules))")
    assert out == "[]"


def test_a_tflite_is_served_by_litert_without_importing_tensorflow(
        served_models: ServedModels) -> None:
    code = f"""
import sys, warnings
warnings.simplefilter("ignore")
from starlette.testclient import TestClient
from kerasdigits.serve import create_app
with TestClient(create_app({str(served_models.float_tflite)!r})) as client:
    answer = client.post("/api/predict", json={{"image": [[0] * 28] * 14 + [[255] * 28] * 14}})
    assert answer.status_code == 200, answer.text
    picture = client.post("/api/predict", content={photo_png(served_models.images[0])!r},
                          headers={{"content-type": "image/png"}})
    assert picture.status_code == 200, picture.text
print(answer.json()["model"]["runtime"], "tensorflow" in sys.modules, "keras" in sys.modules,
      "ai_edge_litert" in sys.modules)
"""
    assert _python(code) == "LiteRT False False True"


def test_kerasdigits_serve_is_the_serve_function_even_after_importing_the_module() -> None:
    module = sys.modules["kerasdigits.serve"]
    assert kerasdigits.serve is module.serve or kerasdigits.serve is module
    assert callable(kerasdigits.serve)
    assert callable(module)  # `kerasdigits.serve(...)` works whichever the name holds
    assert "serve" in kerasdigits.__all__


# ----------------------------------------------------------------------------- the page


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model": "digits.tflite"}


def test_page_and_its_assets_come_from_the_package_and_nothing_else(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for element in ('id="pad"', 'id="preview"', 'id="bars"', 'id="file-input"',
                    'src="static/app.js"', 'href="static/style.css"'):
        assert element in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    texts = [page.text]
    for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200
        assert kind in response.headers["content-type"]
        texts.append(response.text)
    for text in texts:  # no CDN, no web fonts from elsewhere
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), text[:200]
        assert "@import" not in text and "@font-face" not in text


# ----------------------------------------------------------------------------- /api/model


def test_model_endpoint_reports_the_tflite_metadata(client: TestClient,
                                                    int8_client: TestClient,
                                                    served_models: ServedModels) -> None:
    info = client.get("/api/model").json()
    assert info["file"] == "digits.tflite"
    assert info["format"] == "tflite"
    assert info["runtime"] == "LiteRT"
    assert info["size_bytes"] == served_models.float_tflite.stat().st_size
    assert info["labels"] == [str(i) for i in range(10)]
    assert info["inputs"][0]["shape"] == [1, 28, 28, 3]
    assert info["inputs"][0]["dtype"] == "uint8"
    assert info["outputs"][0]["shape"] == [1, 10]
    assert info["outputs"][0]["dtype"] == "float32"
    assert info["quantization"] is None
    assert info["feeding"] == {"layout": "rgb", "dtype": "uint8", "mean": None, "std": None,
                               "invert": False}
    assert info["metadata"]["inputs"][0]["color_space"] == "RGB"
    assert info["metadata"]["files"] == ["labels.txt"]
    assert info["export"]["target"] == "mlkit"
    assert info["export"]["model"] == "fast_convnet"
    quantized = int8_client.get("/api/model").json()
    assert quantized["quantization"] == "int8"
    assert quantized["size_bytes"] < info["size_bytes"] / 2


# ----------------------------------------------------------------------------- predictions


def test_json_pixels_give_run_tflite_and_keras_probabilities(
        client: TestClient, served_models: ServedModels) -> None:
    from kerasdigits import load_model, predict
    from kerasdigits.export import FLOAT_TOLERANCE
    from kerasdigits.export._verify import run_tflite

    images = served_models.images[:40]
    answers = _pixels(client, images)
    served = np.array([a["probabilities"] for a in answers], dtype=np.float32)
    direct = run_tflite(served_models.float_tflite.read_bytes(), images)
    np.testing.assert_allclose(served, direct, atol=1e-6, rtol=0)
    _, keras_probs = predict(load_model(served_models.keras), images)
    assert float(np.abs(served - keras_probs).max()) <= FLOAT_TOLERANCE == 1e-5
    for answer, image in zip(answers, images, strict=True):
        assert answer["image"] == image.tolist()  # fed as sent: already MNIST-style
        assert answer["label"] == answer["labels"][answer["index"]]
        assert answer["index"] == int(np.argmax(answer["probabilities"]))
        assert answer["source"] == "pixels"
        assert answer["model"] == {"file": "digits.tflite", "runtime": "LiteRT",
                                   "runtime_version": answer["model"]["runtime_version"]}
        assert set(answer["timing"]) == {"preprocess_ms", "inference_ms", "total_ms"}
        assert 0 < answer["timing"]["inference_ms"] <= answer["timing"]["total_ms"]
    accuracy = np.mean([a["index"] for a in answers] == served_models.labels[:40])
    assert accuracy >= 0.9


def test_json_floats_and_flat_pixels_are_accepted(client: TestClient,
                                                  served_models: ServedModels) -> None:
    image = served_models.images[0]
    ints = client.post("/api/predict", json={"image": image.tolist()}).json()
    floats = client.post("/api/predict", json={"image": (image / 255.0).tolist()}).json()
    flat = client.post("/api/predict", json={"image": image.reshape(-1).tolist()}).json()
    assert ints["probabilities"] == floats["probabilities"] == flat["probabilities"]


def test_json_preprocess_runs_to_mnist(client: TestClient, served_models: ServedModels) -> None:
    from kerasdigits.transforms import to_mnist

    paper = 255 - np.kron(served_models.images[0], np.ones((3, 3), np.uint8))  # 84x84, dark ink
    answer = client.post("/api/predict", json={"image": paper.tolist(), "preprocess": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["image"] == to_mnist(paper).tolist()
    assert answer.json()["label"] == str(served_models.labels[0])


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_png_photo_upload(how: str, client: TestClient, served_models: ServedModels) -> None:
    from PIL import Image

    from kerasdigits.transforms import to_mnist

    png = photo_png(served_models.images[1])
    if how == "raw":
        response = client.post("/api/predict", content=png,
                               headers={"content-type": "image/png"})
    else:
        response = client.post("/api/predict", files={"file": ("digit.png", png, "image/png")})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["label"] == str(served_models.labels[1])
    assert answer["source"] == "picture"
    expected = to_mnist(np.asarray(Image.open(io.BytesIO(png))))
    assert answer["image"] == expected.tolist()
    assert np.array(answer["image"]).shape == (28, 28)
    assert answer["timing"]["preprocess_ms"] > 0


def test_keras_model_is_served_by_keras_with_the_same_answers(served_models: ServedModels
                                                              ) -> None:
    from kerasdigits import load_model, predict

    images = served_models.images[:10]
    with TestClient(create_app(served_models.keras)) as keras_client:
        info = keras_client.get("/api/model").json()
        assert (info["runtime"], info["format"], info["file"]) == ("Keras", "keras",
                                                                  "model.keras")
        assert info["labels"] == [str(i) for i in range(10)]
        assert info["parameters"] > 0
        answers = _pixels(keras_client, images)
    _, expected = predict(load_model(served_models.keras), images)
    served = np.array([a["probabilities"] for a in answers], dtype=np.float32)
    np.testing.assert_allclose(served, expected, atol=1e-6, rtol=0)
    assert {a["model"]["runtime"] for a in answers} == {"Keras"}


def test_keras_classifier_answers_threads_at_once_as_one_at_a_time(
        served_models: ServedModels) -> None:
    classifier = KerasClassifier(served_models.keras)
    images = served_models.images[:20]
    one_by_one = [classifier.classify(image).probabilities for image in images]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        at_once = [p.probabilities for p in pool.map(classifier.classify, images)]
    np.testing.assert_allclose(np.array(at_once), np.array(one_by_one), atol=1e-6, rtol=0)


def test_int8_export_agrees_with_the_float_one(client: TestClient, int8_client: TestClient,
                                               served_models: ServedModels) -> None:
    images = served_models.images[:60]
    floats = [a["index"] for a in _pixels(client, images)]
    ints = [a["index"] for a in _pixels(int8_client, images)]
    assert np.mean(np.array(floats) == np.array(ints)) >= 0.95


def test_load_classifier_picks_the_backend(served_models: ServedModels, tmp_path: Path) -> None:
    assert isinstance(load_classifier(served_models.float_tflite), LiteRTClassifier)
    assert isinstance(load_classifier(str(served_models.keras)), KerasClassifier)
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(served_models.int8_tflite.read_bytes())
    assert isinstance(load_classifier(renamed), LiteRTClassifier)  # recognized by content
    fake = tmp_path / "fake.tflite"
    fake.write_text("not a model")
    with pytest.raises(ModelLoadError, match=r"fake\.tflite: not a TFLite model"):
        load_classifier(fake)
    with pytest.raises(ModelLoadError, match="no such file"):
        load_classifier(tmp_path / "missing.tflite")
    with pytest.raises(ModelLoadError, match=r"expected a \.tflite or \.keras"):
        load_classifier(tmp_path / "notes.txt")
    with pytest.raises(ModelLoadError, match="cannot serve a dict"):
        load_classifier({})
    exported = SimpleNamespace(path=served_models.int8_tflite, verification=None)
    assert load_classifier(exported).name == "digits_int8.tflite"  # an ExportResult
    from kerasdigits import load_model

    in_memory = load_classifier(load_model(served_models.keras))
    assert (in_memory.runtime, in_memory.labels[:2]) == ("Keras", ("0", "1"))


# ----------------------------------------------------------------------------- bad requests


def test_not_an_image_gets_415(client: TestClient) -> None:
    message = _error(client.post("/api/predict", content=b"%PDF-1.4 hello",
                                 headers={"content-type": "image/png"}), 415)
    assert message.startswith("not a picture")
    message = _error(client.post("/api/predict", content=b"hello",
                                 headers={"content-type": "text/plain"}), 415)
    assert "unsupported content type 'text/plain'" in message


def test_truncated_picture_and_blank_picture_get_422(client: TestClient,
                                                     served_models: ServedModels) -> None:
    png = photo_png(served_models.images[0])
    assert "truncated or corrupt" in _error(
        client.post("/api/predict", content=png[: len(png) // 2],
                    headers={"content-type": "image/png"}), 422)
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (50, 50), (240, 240, 240)).save(blank, "PNG")
    assert _error(client.post("/api/predict", content=blank.getvalue(),
                              headers={"content-type": "image/png"}), 422
                  ).startswith("no digit found")
    assert _error(client.post("/api/predict", content=b"",
                              headers={"content-type": "image/png"}), 422
                  ).startswith("empty request")


def test_oversized_upload_gets_413(served_models: ServedModels) -> None:
    big = photo_png(served_models.images[0], size=400)
    with TestClient(create_app(served_models.float_tflite, max_upload_bytes=20_000)) as small:
        assert len(big) > 20_000
        message = _error(small.post("/api/predict", content=big,
                                    headers={"content-type": "image/png"}), 413)
        assert message == "request too large: the limit is 20,000 bytes"
        # Without a Content-Length (chunked), the limit applies while reading.
        chunks = (big[i : i + 4096] for i in range(0, len(big), 4096))
        _error(small.post("/api/predict", content=chunks,
                          headers={"content-type": "image/png"}), 413)
        _error(small.post("/api/predict", files={"file": ("big.png", big, "image/png")}), 413)
        ok = small.post("/api/predict", content=photo_png(served_models.images[0], size=60),
                        headers={"content-type": "image/png"})
        assert ok.status_code == 200


def test_malformed_json_gets_400_and_wrong_json_422(client: TestClient) -> None:
    for body in (b'{"image": [[1, 2', b"[" * 100_000, b"\xff\xfe"):
        assert _error(client.post("/api/predict", content=body,
                                  headers={"content-type": "application/json"}), 400
                      ).startswith("malformed JSON")
    for body, expected in [
        ({"pixels": []}, "expected a JSON object"),
        ([1, 2, 3], "expected a JSON object"),
        ({"image": [[0] * 28] * 27}, "must be 28x28 (got shape [27, 28])"),
        ({"image": [[0, 1], [2]]}, "rows of numbers"),
        ({"image": [["a"] * 28] * 28}, "must hold numbers"),
        ({"image": [[300] * 28] * 28}, "integer pixels must be in 0..255"),
        ({"image": [[1.5] * 28] * 28}, "float pixels must be in [0, 1]"),
        ({"image": [[0] * 28] * 28, "preprocess": "yes"}, '"preprocess" must be true or false'),
    ]:
        message = _error(client.post("/api/predict", json=body), 422)
        assert expected in message, (body, message)


def test_json_integer_too_long_for_python_gets_400(client: TestClient) -> None:
    # json.loads raises a plain ValueError ("Exceeds the limit (4300 digits)"): not a 500.
    body = b'{"image": [[' + b"7" * 5000 + b"]]}"
    message = _error(client.post("/api/predict", content=body,
                                 headers={"content-type": "application/json"}), 400)
    assert message.startswith("malformed JSON: a number is too long: Exceeds the limit")
    assert "set_int_max_str_digits" not in message


def test_other_mistakes_get_a_json_error(client: TestClient) -> None:
    response = client.get("/api/predict")
    assert _error(response, 405) == "405 Method Not Allowed"
    assert response.headers["allow"] == "POST"
    assert "content-security-policy" in response.headers
    assert "has no file" in _error(client.post("/api/predict", data={"name": "x"},
                                               files={"other": ("", b"", "text/plain")}), 422)
    assert _error(client.get("/nothing-here"), 404) == "404 Not Found"
    assert _error(client.get("/static/nothing.js"), 404) == "404 Not Found"
    assert client.get("/static/app.js").status_code == 200


def test_big_picture_is_shrunk_before_to_mnist(client: TestClient,
                                               served_models: ServedModels) -> None:
    # Converted at full size, a 2400x2400 picture took about 500 MB of NumPy arrays (and a
    # 6300x6300 one 2.2 GB); shrunk to MAX_SIDE by Pillow first, a few tens of MB.
    import tracemalloc

    from kerasdigits.serve._images import image_from_bytes

    image = served_models.images[0]
    big = photo_png(image, size=2400)
    tracemalloc.start()
    try:
        shrunk = image_from_bytes(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 << 20, f"{peak / (1 << 20):.0f} MiB"
    small = image_from_bytes(photo_png(image, size=160))
    assert np.abs(shrunk.astype(int) - small.astype(int)).mean() < 8
    answers = [client.post("/api/predict", content=png, headers={"content-type": "image/png"})
               for png in (big, photo_png(image, size=160))]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["label"] == answers[1].json()["label"]


def test_float_picture_with_nan_gets_422(client: TestClient) -> None:
    from PIL import Image

    pixels = np.full((40, 40), 0.9, dtype=np.float32)
    pixels[10:30, 18:22] = 0.1
    pixels[0, 0] = np.nan
    stream = io.BytesIO()
    Image.fromarray(pixels).save(stream, "TIFF")
    message = _error(client.post("/api/predict", content=stream.getvalue(),
                                 headers={"content-type": "image/tiff"}), 422)
    assert message == "unusable picture: float picture with NaN or infinite pixels"


# ----------------------------------------------------------------------------- a real server


def test_20_concurrent_requests_give_the_sequential_answers(served_models: ServedModels) -> None:
    images = served_models.images[:20]
    bodies = [photo_png(image, seed=i) for i, image in enumerate(images)]
    with start_server(served_models.float_tflite, port=0, threads=4) as server:
        assert server.host == DEFAULT_HOST == "127.0.0.1"
        url = f"{server.url}/api/predict"

        def ask(body: bytes) -> dict[str, Any]:
            response = httpx.post(url, content=body, headers={"content-type": "image/png"},
                                  timeout=60)
            assert response.status_code == 200, response.text
            answer: dict[str, Any] = response.json()
            return answer

        sequential = [ask(body) for body in bodies]
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            concurrent_answers = list(pool.map(ask, bodies))
    for one, other in zip(sequential, concurrent_answers, strict=True):
        assert one["label"] == other["label"]
        assert one["probabilities"] == other["probabilities"]
        assert one["image"] == other["image"]
    labels = np.array([int(a["label"]) for a in sequential])
    assert np.mean(labels == served_models.labels[:20]) >= 0.85
    assert not server.running


def test_start_server_refuses_a_port_in_use(served_models: ServedModels) -> None:
    with start_server(served_models.float_tflite, port=0) as server:
        with pytest.raises(ServeError, match=r"127\.0\.0\.1:\d+: the port is in use"):
            start_server(served_models.float_tflite, port=server.port)
        assert server.running


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "kerasdigits", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_cli_serves_until_ctrl_c_and_stops_cleanly(served_models: ServedModels) -> None:
    proc = _cli(str(served_models.float_tflite), "--port", "0")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.match(r"serving digits\.tflite \(LiteRT [\d.]+\) at (http://127\.0\.0\.1:\d+)"
                         r" - press Ctrl-C to stop$", line.strip())
        assert match, line + (proc.stderr.read() if proc.stderr and proc.poll() else "")
        url = match.group(1)
        assert httpx.get(f"{url}/healthz", timeout=10).json()["status"] == "ok"
        answer = httpx.post(f"{url}/api/predict",
                            json={"image": served_models.images[0].tolist()}, timeout=10)
        assert answer.json()["label"] == str(served_models.labels[0])
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, 130), err
    assert time.monotonic() - started < 10
    assert out.strip().endswith("stopped")
    assert "Traceback" not in err
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=5)


def test_cli_errors_are_one_line(served_models: ServedModels, tmp_path: Path) -> None:
    missing = subprocess.run([sys.executable, "-m", "kerasdigits", "serve",
                              str(tmp_path / "nope.tflite")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"kerasdigits: error: {tmp_path / 'nope.tflite'}: no such file"
    no_extra = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['uvicorn'] = None; "
         "from kerasdigits.cli import main; "
         f"raise SystemExit(main(['serve', {str(served_models.float_tflite)!r}]))"],
        capture_output=True, text=True, timeout=120)
    assert no_extra.returncode == 1
    assert no_extra.stderr.strip() == (
        'kerasdigits: error: kerasdigits serve needs uvicorn, which is not installed; install '
        'the serve extra: pip install "kerasdigits[serve]"')
    bad_port = subprocess.run([sys.executable, "-m", "kerasdigits", "serve", "x.tflite",
                               "--port", "70000"], capture_output=True, text=True, timeout=120)
    assert bad_port.returncode == 2
    assert "a port is 0 to 65535, got 70000" in bad_port.stderr


def test_cli_help_shows_the_options_and_examples() -> None:
    result = subprocess.run([sys.executable, "-m", "kerasdigits", "serve", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for text in ("--host", "--port", "--open", "0.0.0.0", 'kerasdigits[serve]',
                 "kerasdigits serve run/digits.tflite --open"):
        assert text in result.stdout
