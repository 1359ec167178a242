"""What `make test` (tests/run) tells a developer about the run itself:
its last line says how many tests were skipped and why, and the web
servers do not drop out of the run because PATH lacks /usr/sbin (a
non-root developer's usual PATH); and HACKING.md's multi-word
PYTEST_ARGS examples reach pytest as the words they mean."""

import os
import re
import shlex
import subprocess

from harness import stack

RUN = os.path.join(stack.ROOT, "tests", "run")


def test_last_line_says_how_many_tests_were_skipped_and_why(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OTAS_VALGRIND"}
    # No unit binaries there, and only the valgrind tests selected, which
    # skip unless make sanitize asks for them.
    env.update(BUILD=str(tmp_path), PYTEST_ARGS="-q -k test_valgrind")
    r = subprocess.run([RUN], cwd=stack.ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    last = r.stdout.splitlines()[-1]
    assert re.fullmatch(r"0 passed, 0 failed, (\d+) skipped "
                        r"\(\1: valgrind run: [^;]*\)", last), last


def test_web_servers_are_found_without_usr_sbin_on_path(monkeypatch):
    monkeypatch.delenv("OTAS_TEST_SERVERS", raising=False)
    everywhere = stack.server_kinds()
    assert "lighttpd" in everywhere
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    assert stack.server_kinds() == everywhere


def test_readme_pytest_args_examples_reach_pytest_as_meant(tmp_path):
    with open(os.path.join(stack.ROOT, "HACKING.md")) as f:
        text = f.read()
    start = text.index("\n## Tests\n")
    section = text[start:text.index("\n## ", start + 1)]
    examples = re.findall(r"`(PYTEST_ARGS=[^`]*?) make test`",
                          section.replace("\n", " "))
    assert len(examples) >= 2, examples
    for example in examples:
        # As the shell reads the assignment HACKING.md shows.
        (assignment,) = shlex.split(example)
        value = assignment.partition("=")[2]
        env = dict(os.environ, BUILD=str(tmp_path),
                   PYTEST_ARGS=value + " --collect-only -q")
        r = subprocess.run([RUN], cwd=stack.ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
        # A word split wrongly is a path pytest cannot find: status 4.
        assert "pytest exited with status" not in r.stdout, (example,
                                                             r.stdout[-2000:])
        assert r.stdout.splitlines()[-1] == "0 passed, 0 failed", example
