"""Every shell and Python code block of README.md and the guide pages (docs/*.md) runs as written.

The blocks of a page run in order, as a user pasting them would, in a fresh temporary working
folder shared by the page's blocks:

* ```` ```python ```` blocks run in one Python process per page, kept alive between blocks, so
  a later block sees the names an earlier one defined (like a notebook). Tracebacks name the
  page and the line in it.
* ```` ```bash ````, ```` ```sh ```` and ```` ```shell ```` blocks run with ``bash -e``;
  ```` ```console ```` blocks run their ``$ `` lines. ``pip install ...`` is not run (the
  package is installed): ``pip`` is a shell function that only says so.
* Other languages (``text`` output, ``toml``, ``yaml``, ``kotlin``...) are not run, nor MyST
  directives (```` ```{doctest} ```` blocks run in the Sphinx build). A fence without a
  language is an error: say what the block is.

The working folder starts with ``photo.png``, a picture of a handwritten 7 (dark ink on light
paper, 140 x 140 RGB) standing for the photo the docs ask you to classify.

A block may opt out only with a visible marker and a reason, an HTML comment on the line right
before its fence::

    <!-- docs-test: skip (trains accurate_convnet for 15 minutes) -->

``test_opt_outs_are_listed`` checks that every opt-out has a reason and prints the list
(``pytest tests/test_docs_blocks.py -k opt_outs -s``, or ``python tests/test_docs_blocks.py``).

Blocks that use the full MNIST or Fashion-MNIST (``load_mnist()``, ``--dataset mnist``,
``kerasdigits train``/``evaluate`` without a ``*_sample`` dataset...) run against
``KERASDIGITS_DATA_DIR`` (CI sets it); without it a page runs up to its first such block and
skips the rest (``KERASDIGITS_REQUIRE_REAL_DATA=1`` makes that a failure, as in CI). Nothing is
ever downloaded: the mirrors point at a closed local port, and the caches
(``KERASDIGITS_HOME``, ``KERAS_HOME``) are the test's own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Captured at import, before conftest's autouse fixture removes it from the environment.
_REAL_DATA_DIR = os.environ.get("KERASDIGITS_DATA_DIR")
_REQUIRE_REAL_DATA = os.environ.get("KERASDIGITS_REQUIRE_REAL_DATA") == "1"

#: Seconds one block may take before it is stopped and reported.
BLOCK_TIMEOUT = 300

PYTHON_LANGS = {"python", "py", "python3"}
SHELL_LANGS = {"bash", "sh", "shell", "console"}
CODE_DIRECTIVES = {"code-block", "code", "sourcecode"}

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:(?P<body>.*?)-->\s*$")
_SKIP = re.compile(r"^\s*skip\s*\((?P<reason>.*)\)\s*$")

# What needs the full datasets (not the bundled *_sample ones).
_REAL_NAME = r"(?:mnist|fashion[-_]mnist)\b(?!-)"
_NEEDS_DATA_PY = re.compile(
    rf"""load_mnist\(|load_fashion_mnist\(|["']{_REAL_NAME}["']|--dataset\s+{_REAL_NAME}"""
)
_CLI_DATASET = re.compile(r"--dataset[\s=]+(\S+)")


class PageError(Exception):
    """A page's code blocks cannot be extracted (a fence without a language, a bad marker)."""


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # 1-based line of the first line of code (after the opening fence)
    lang: str  # "python", "shell" or the fence's own language (not run)
    source: str
    skip_reason: str | None = None

    @property
    def where(self) -> str:
        """``docs/training.md:106``: the page and the line of the block's first line of code."""
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.lang in ("python", "shell")

    def needs_real_data(self) -> bool:
        if self.lang == "python":
            return _NEEDS_DATA_PY.search(self.source) is not None
        if self.lang == "shell":
            return any(_command_needs_data(cmd) for cmd in shell_commands(self.source))
        return False


def _command_needs_data(command: str) -> bool:
    words = command.split()
    if len(words) >= 2 and words[0] == "kerasdigits":
        sub = next((w for w in words[1:] if not w.startswith("-")), "")
        named = _CLI_DATASET.search(command)
        if named:
            return not named.group(1).strip("'\"").endswith("_sample")
        if sub == "summary":
            name = words[words.index("summary") + 1] if words[-1] != "summary" else ""
            return not name.endswith("_sample")
        return sub in ("train", "evaluate")  # their --dataset defaults to mnist
    if len(words) >= 2 and words[0] == "python" and words[1].startswith("examples/"):
        return "--quick" not in words
    return False


def shell_commands(source: str) -> list[str]:
    """The commands of a shell block, one per (joined) line, comments removed."""
    joined = re.sub(r"\\\n", " ", source)
    commands = []
    for line in joined.splitlines():
        code = re.sub(r"(^|\s)#.*$", "", line).strip()
        for part in re.split(r"&&|\|\||;", code):
            if part.strip():
                commands.append(part.strip())
    return commands


def _language(info: str) -> str:
    words = info.strip().split()
    if not words:
        return ""
    lang = words[0].lower()
    if lang.startswith("{") and lang.endswith("}"):
        directive = lang[1:-1]
        if directive in CODE_DIRECTIVES and len(words) > 1:
            return words[1].lower()
        return lang  # a MyST directive: toctree, doctest, figure...
    return lang


def extract_blocks(page: Path, text: str | None = None) -> list[Block]:
    """Return the fenced code blocks of a Markdown page, in order.

    Raises:
        PageError: A fence has no language, a ``docs-test`` marker is malformed, has no
            reason, or does not stand right before a fence.
    """
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    pending: tuple[int, str] | None = None  # (line, reason) of a marker awaiting its fence
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = _MARKER.match(line)
        if marker:
            skip = _SKIP.match(marker.group("body"))
            if not skip:
                raise PageError(f"{page.name}:{i + 1}: unknown docs-test marker {line.strip()!r}; "
                                "write <!-- docs-test: skip (the reason) -->")
            reason = " ".join(skip.group("reason").split())
            if not reason:
                raise PageError(f"{page.name}:{i + 1}: docs-test skip marker without a reason")
            pending = (i + 1, reason)
            i += 1
            continue
        fence = _FENCE.match(line)
        if pending is not None and (not fence or pending[0] != i):
            raise PageError(f"{page.name}:{pending[0]}: a docs-test marker must stand on the line "
                            "right before a code fence")
        if not fence:
            i += 1
            continue
        char, size = fence.group("fence")[0], len(fence.group("fence"))
        info = fence.group("info")
        close = re.compile(rf"^ {{0,3}}{re.escape(char)}{{{size},}}\s*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            body.append(lines[j])
            j += 1
        lang = _language(info)
        if not lang:
            raise PageError(f"{page.name}:{i + 1}: code fence without a language; say what it "
                            "is (bash, python, text...) so that it is run or not on purpose")
        indent = len(fence.group("indent"))
        source = "\n".join(b[indent:] if b[:indent].isspace() else b for b in body) + "\n"
        kind = "python" if lang in PYTHON_LANGS else "shell" if lang in SHELL_LANGS else lang
        if kind == "shell" and lang == "console":
            source = "\n".join(b[2:] if b.startswith("$ ") else "" for b in source.splitlines())
            source += "\n"
        if kind == "python" and source.lstrip().startswith(">>>"):
            raise PageError(f"{page.name}:{i + 1}: a ```python block of >>> examples; use a "
                            "{doctest} block (run by Sphinx) or plain Python")
        blocks.append(Block(page, i + 2, kind, source, pending[1] if pending else None))
        pending = None
        i = j + 1
    if pending is not None:
        raise PageError(f"{page.name}:{pending[0]}: docs-test marker at the end of the page")
    return blocks


def opt_outs() -> list[Block]:
    """Every block that opted out, on every page."""
    return [b for page in PAGES for b in extract_blocks(page) if b.skip_reason is not None]


def format_opt_outs(blocks: list[Block]) -> str:
    return "\n".join(f"- {b.where} ({b.lang}): {b.skip_reason}" for b in blocks)


# --------------------------------------------------------------------------- running blocks

_DRIVER = textwrap.dedent('''\
    """Run Python blocks sent as JSON lines on stdin in one namespace; reply ok/error."""
    import faulthandler, json, os, signal, sys, traceback

    control = os.fdopen(os.dup(1), "w")
    log = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    for raw in sys.stdin:
        block = json.loads(raw)
        code = "\\n" * (block["line"] - 1) + block["source"]
        status = "ok"
        try:
            exec(compile(code, block["path"], "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            status = "error"
        sys.stdout.flush()
        sys.stderr.flush()
        control.write(status + "\\n")
        control.flush()
''')

# Sourced by every shell block (BASH_ENV): no real pip install, and the failing command named.
_SHELL_PRELUDE = textwrap.dedent('''\
    pip() {
        if [ "$1" = install ]; then echo "docs-test: not run: pip $*"; else command pip "$@"; fi
    }
    trap 'echo "docs-test: exit status $? on line $LINENO: $BASH_COMMAND" >&2' ERR
''')


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(text: str, limit: int = 8000) -> str:
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


class BlockError(Exception):
    """A block failed or timed out; the message has its place, code and output."""

    def __init__(self, block: Block, problem: str, output: str) -> None:
        super().__init__(
            f"{block.where}: the {block.lang} block {problem}\n"
            f"--- block\n{block.source.rstrip()}\n--- output\n{_tail(output).rstrip()}"
        )


class PythonSession:
    """One Python process per page that runs its blocks in one namespace."""

    def __init__(self, cwd: Path, env: dict[str, str], scratch: Path) -> None:
        driver = scratch / "docs_python_driver.py"
        driver.write_text(_DRIVER)
        self.log_path = scratch / "python.log"
        with self.log_path.open("wb") as log:  # the driver's own errors, then every block's
            self.proc = subprocess.Popen(
                [sys.executable, "-u", str(driver), str(self.log_path)],
                cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                text=True, start_new_session=True,
            )

    def run(self, block: Block, timeout: float) -> str:
        """Run ``block``; return its output or raise :class:`BlockError`."""
        start = self.log_path.stat().st_size
        assert self.proc.stdin is not None and self.proc.stdout is not None
        message = {"path": str(block.page), "line": block.line, "source": block.source}
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise BlockError(block, "could not start: the Python process is gone",
                              self._output(0)) from None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.send_signal(signal.SIGUSR1)  # the driver dumps its stack into the log
            time.sleep(1)
            _kill_group(self.proc)
            raise BlockError(block, f"did not finish in {timeout:.0f} s (stack at the end)",
                              self._output(start))
        status = self.proc.stdout.readline().strip()
        output = self._output(start)
        if status != "ok":
            problem = "raised an exception" if status == "error" else (
                f"killed the Python process (exit status {self.proc.wait()})")
            raise BlockError(block, problem, output)
        return output

    def _output(self, start: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def run_shell(block: Block, cwd: Path, env: dict[str, str], scratch: Path,
              timeout: float) -> str:
    """Run a shell block with ``bash -e``; return its output or raise :class:`BlockError`."""
    script = scratch / f"block_{block.line}.sh"
    script.write_text("\n" * (block.line - 1) + block.source)  # $LINENO = the page's line
    prelude = scratch / "prelude.sh"
    prelude.write_text(_SHELL_PRELUDE)
    proc = subprocess.Popen(
        ["bash", "-e", str(script)], cwd=cwd, env={**env, "BASH_ENV": str(prelude)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        output = proc.stdout.read() if proc.stdout else ""
        raise BlockError(block, f"did not finish in {timeout:.0f} s", output) from None
    if proc.returncode != 0:
        raise BlockError(block, f"failed with exit status {proc.returncode}", output)
    return output


def write_photo(path: Path) -> None:
    """A photo-like picture of a handwritten digit: a 7 of MNIST, dark ink on light paper."""
    import numpy as np
    from PIL import Image

    from kerasdigits import load_dataset

    digit = load_dataset("mnist_sample").test.images[0]  # a 7
    big = np.kron(255 - digit.astype(np.float64), np.ones((4, 4)))  # 112 x 112, dark on light
    paper = np.full((140, 140), 235.0)
    paper[14:126, 14:126] = np.minimum(paper[14:126, 14:126], big)
    rgb = np.stack([paper * 0.98, paper * 0.97, paper], axis=-1)  # slightly blue paper and ink
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").save(path)


def block_env(home: Path, data_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)  # conftest's: temporary caches, no KERASDIGITS_DATA_DIR
    env["KERASDIGITS_HOME"] = str(home / "kerasdigits_home")
    env["KERAS_HOME"] = str(home / "keras_home")
    env["KERASDIGITS_MIRROR"] = "http://127.0.0.1:9/{dataset}/"  # never download
    env["MPLBACKEND"] = "Agg"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("KERASDIGITS_DATA_DIR", None)
    if data_dir:
        env["KERASDIGITS_DATA_DIR"] = data_dir
    return env


def _real_data_dir() -> str | None:
    if _REAL_DATA_DIR and Path(_REAL_DATA_DIR, "mnist").is_dir():
        return str(Path(_REAL_DATA_DIR).resolve())
    return None


def run_page(page: Path, tmp: Path) -> Iterator[tuple[Block, str]]:
    """Run the page's blocks in order; yield ``(block, output)`` for each block run."""
    blocks = [b for b in extract_blocks(page) if b.runnable]
    data_dir = _real_data_dir()
    work, scratch = tmp / "work", tmp / "scratch"
    work.mkdir()
    scratch.mkdir()
    write_photo(work / "photo.png")
    env = block_env(tmp, data_dir)
    session: PythonSession | None = None
    try:
        for block in blocks:
            if block.skip_reason is not None:
                continue
            if data_dir is None and block.needs_real_data():
                rest = [b.where for b in blocks[blocks.index(block):] if b.skip_reason is None]
                message = (f"real data not available (set KERASDIGITS_DATA_DIR to a folder with "
                           f"mnist/ and fashion-mnist/): not run from {', '.join(rest)}")
                if _REQUIRE_REAL_DATA:
                    pytest.fail(message)
                pytest.skip(message)
            started = time.perf_counter()
            if block.lang == "python":
                if session is None:
                    session = PythonSession(work, env, scratch)
                output = session.run(block, BLOCK_TIMEOUT)
            else:
                output = run_shell(block, work, env, scratch, BLOCK_TIMEOUT)
            print(f"{block.where}: {block.lang} block ran in {time.perf_counter() - started:.1f} s")
            yield block, output
    finally:
        if session is not None:
            session.close()


# --------------------------------------------------------------------------- tests


def _page_params() -> list[object]:
    params = []
    for page in PAGES:
        try:
            heavy = any(b.needs_real_data() for b in extract_blocks(page) if b.runnable)
        except PageError:
            heavy = False  # reported by the test itself
        marks = [pytest.mark.realdata] if heavy else []
        params.append(pytest.param(page, id=page.name, marks=marks))
    return params


@pytest.mark.slow
@pytest.mark.parametrize("page", _page_params())
def test_page_blocks_run(page: Path, tmp_path: Path) -> None:
    problem = None
    try:
        for _ in run_page(page, tmp_path):
            pass
    except (PageError, BlockError) as exc:
        problem = str(exc)
    if problem is not None:  # failed outside the handler: no "During handling..." noise
        pytest.fail(problem, pytrace=False)


def test_opt_outs_are_listed() -> None:
    """Every opted-out block has a reason; the list is printed for release notes."""
    blocks = opt_outs()
    assert all(b.skip_reason and b.skip_reason.strip() for b in blocks)
    print(f"\n{len(blocks)} documentation code blocks are not run by tests/test_docs_blocks.py:")
    print(format_opt_outs(blocks))


def test_pages_are_found() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "index.md", "training.md", "android.md"} <= names


# ---- the extractor itself, on small pages


def _page(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(textwrap.dedent(text))
    return path


def test_extractor_languages_lines_and_markers(tmp_path: Path) -> None:
    page = _page(tmp_path, """\
        # Title

        ```python
        x = 1
        ```

        <!-- docs-test: skip (needs a GPU) -->
        ```bash
        kerasdigits train accurate_convnet
        ```

        ```console
        $ kerasdigits datasets
        mnist  60,000  10,000
        ```

        ```text
        output
        ```

        ```{doctest}
        >>> 1
        1
        ```
        """)
    blocks = extract_blocks(page)
    assert [(b.lang, b.line) for b in blocks] == [
        ("python", 4), ("shell", 9), ("shell", 13), ("text", 18), ("{doctest}", 22)]
    assert blocks[1].skip_reason == "needs a GPU"
    assert blocks[2].source.splitlines() == ["kerasdigits datasets", ""]
    assert [b.runnable for b in blocks] == [True, True, True, False, False]


@pytest.mark.parametrize(("text", "problem"), [
    ("```\nkerasdigits datasets\n```\n", "without a language"),
    ("<!-- docs-test: skip -->\n```bash\nls\n```\n", "unknown docs-test marker"),
    ("<!-- docs-test: skip () -->\n```bash\nls\n```\n", "without a reason"),
    ("<!-- docs-test: skip (slow) -->\n\n```bash\nls\n```\n", "right before a code fence"),
    ("<!-- docs-test: skip (slow) -->\nSome text.\n", "right before a code fence"),
    ("```python\n>>> 1\n1\n```\n", "doctest"),
])
def test_extractor_rejects(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(PageError, match=problem):
        extract_blocks(_page(tmp_path, text))


@pytest.mark.parametrize(("source", "needs"), [
    ("ds = load_mnist()\n", True),
    ('ds = load_dataset("mnist_sample")\n', False),
    ('ds = load_dataset("fashion_mnist")\n', True),
    ("kerasdigits train fast_convnet --dataset mnist_sample --out run/\n", False),
    ("kerasdigits train fast_convnet --out run/\n", True),
    ("kerasdigits evaluate run/model.keras --dataset mnist\n", True),
    ("kerasdigits summary fashion_mnist_sample\n", False),
    ("kerasdigits datasets && kerasdigits summary mnist   # comment\n", True),
    ("kerasdigits export run/model.keras d.tflite --dataset mnist_sample\n", False),
    ("python examples/mnist_mlp.py --quick\n", False),
])
def test_real_data_detection(source: str, needs: bool) -> None:
    lang = "shell" if source.startswith(("kerasdigits", "python ")) else "python"
    assert Block(ROOT / "x.md", 1, lang, source).needs_real_data() is needs


def test_shell_block_reports_the_failing_line(tmp_path: Path) -> None:
    page = _page(tmp_path, "Text.\n\n```bash\ntrue\npip install nothing-at-all\nfalse\n```\n")
    (block,) = extract_blocks(page)
    with pytest.raises(BlockError) as info:
        run_shell(block, tmp_path, dict(os.environ), tmp_path, timeout=60)
    message = str(info.value)
    assert message.startswith(f"{page}:4: the shell block failed with exit status 1")
    assert "docs-test: not run: pip install nothing-at-all" in message
    assert "exit status 1 on line 6: false" in message


def test_python_session_keeps_names_and_reports_tracebacks(tmp_path: Path) -> None:
    page = _page(tmp_path, "```python\nx = 41\n```\n\n```python\nprint(x + 1)\n1 / 0\n```\n")
    first, second = extract_blocks(page)
    session = PythonSession(tmp_path, dict(os.environ), tmp_path)
    try:
        assert session.run(first, 60) == ""
        with pytest.raises(BlockError) as info:
            session.run(second, 60)
    finally:
        session.close()
    message = str(info.value)
    assert message.startswith(f"{page}:6: the python block raised an exception")
    assert "42" in message
    assert f'File "{page}", line 7' in message
    assert "ZeroDivisionError" in message


def _print_opt_outs(stream: IO[str]) -> None:
    blocks = opt_outs()
    stream.write(format_opt_outs(blocks) + "\n")


if __name__ == "__main__":  # python tests/test_docs_blocks.py: the list of opted-out blocks
    _print_opt_outs(sys.stdout)
