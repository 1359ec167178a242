"""The manual pages at the top of the tree — otas-session(8), otas-authz(8),
otas-echo(8), otas-admin(1), otas.conf(5) — render without a warning, as
groff checks them (`groff -man -ww -z`, every warning on) and as man(1)
shows them (`man --warnings -l`), and each names the others that exist in
SEE ALSO.  Whether otas.conf(5) lists every setting of lib/config.c's table
is tests/unit/test_config.c's."""

import glob
import os
import re
import subprocess

import pytest

from harness import stack

PAGES = sorted(glob.glob(os.path.join(stack.ROOT, "*.[158]")))


def test_the_five_pages_are_there():
    names = {os.path.basename(p) for p in PAGES}
    assert names == {"otas-session.8", "otas-authz.8", "otas-echo.8",
                     "otas-admin.1", "otas.conf.5"}


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_page_renders_without_a_warning_under_groff(page):
    r = subprocess.run(["groff", "-man", "-ww", "-z", page],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_page_renders_without_a_warning_under_man(page):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", page], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert len(r.stdout.splitlines()) > 20


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_see_also_names_the_other_pages_and_only_pages_that_exist(page):
    with open(page) as f:
        text = f.read()
    see_also = text.split("\n.Sh SEE ALSO\n", 1)[1].split("\n.Sh ", 1)[0]
    named = set(re.findall(r"^\.Xr (otas[-.a-z]*) (\d)", see_also,
                           re.MULTILINE))
    assert named, "no SEE ALSO"
    ours = {os.path.basename(p).rsplit(".", 1)[0] for p in PAGES}
    if not page.endswith("otas-echo.8"):     # an example: two links do
        assert ours - {os.path.basename(page).rsplit(".", 1)[0]} <= \
            {n for n, _ in named}, named
    for name, section in named:
        assert os.path.exists(os.path.join(stack.ROOT, "%s.%s" % (
            name, section))), (name, section)
