"""The README's "Try it in one minute" runs as written (issue 13).

The bash blocks of that section are taken from README.md itself, joined in order, and run by
bash in the checkout's root, as a newcomer pastes them. The only differences are the ones the
README documents as settings: PORT (a free port), the database, instance and certificates in
a temporary directory, TMPDIR, and VENV naming an installed virtualenv (tests/make_run.py).
Every `# -> ...` line of the blocks is what the README says the line before prints: each must
appear in the output, in order, with `...` standing for anything.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.make_run import ROOT, cannot_make_run, free_port, make_run_env, stop_group

SECTION = "## Try it in one minute"
# gunicorn's access log (`make run` serves with --access-logfile -) lands between the tour's lines
ACCESS_LOG = re.compile(r'127\.0\.0\.1 - - \[[^\]\n]*\] "[^"\n]*" \d{3} \S+ "[^"\n]*" "[^"\n]*"\n')


def readme_blocks(text: str) -> list[str]:
    """The ```bash blocks of the section, in order."""
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else None]
    return re.findall(r"^```bash\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def expectations(script: str, port: int) -> list[re.Pattern[str]]:
    """`# -> text` lines as whole-line patterns: `...` is anything, spaces may be absent
    (Flask answers compact JSON), and the README's port 8000 is the port served."""
    patterns = []
    for line in script.splitlines():
        if not line.startswith("# -> "):
            continue
        expected = line[len("# -> "):].strip()
        parts = [re.escape(part) for part in expected.split("...")]
        pattern = ".*?".join(parts)
        pattern = re.sub(r"(\\ )+", r"\\s*", pattern).replace(r"127\.0\.0\.1:8000", rf"127\.0\.0\.1:{port}")
        patterns.append(re.compile(rf"^{pattern}$", re.MULTILINE))
    return patterns


def test_the_readme_blocks_are_found_and_hold_no_placeholders() -> None:
    blocks = readme_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 1 and blocks[0].startswith("make run &")
    for block in blocks:
        code = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("#"))
        assert not re.search(r"<[a-z_]+>", code), "placeholders cannot be pasted"


@pytest.mark.skipif(cannot_make_run() is not None, reason=str(cannot_make_run()))
def test_try_it_in_one_minute_runs_as_pasted(tmp_path: Path, certs_dir: Path) -> None:
    script = "\n".join(readme_blocks((ROOT / "README.md").read_text()))
    port = free_port()
    env = make_run_env(tmp_path, certs_dir, port)
    (tmp_path / "tour.sh").write_text(script)
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # -e: every command of the tour must succeed; its own process group, so that the
        # `make run &` it leaves serving (as the README intends) is stopped with it
        bash = subprocess.Popen(["bash", "-e", "-o", "pipefail", str(tmp_path / "tour.sh")], cwd=ROOT, env=env,
                                stdout=stdout, stderr=stderr, start_new_session=True)
        try:
            returncode = bash.wait(timeout=90)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            stop_group(bash)
    printed = ACCESS_LOG.sub("", out.read_text())
    report = f"stdout:\n{printed}\nstderr:\n{err.read_text()[-3000:]}"
    assert returncode == 0, report
    position = 0
    patterns = expectations(script, port)
    assert len(patterns) >= 8
    for pattern in patterns:
        found = pattern.search(printed, position)
        if found is None:
            pytest.fail(f"the README says {pattern.pattern!r} is printed; it is not (in order)\n{report}")
        position = found.end()
    assert (tmp_path / "card.pkpass").stat().st_size > 0, "the pass goes to TMPDIR, not into the checkout"
