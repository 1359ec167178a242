"""guide — the shell blocks of a markdown guide, as a test runs them.

A guide in doc/ (or the README) is a path a user follows: its ```sh
blocks, in order, are the commands.  The tests that walk a guide take the
blocks from here, so every guide is read the same way: a block starts
with a line "```sh" and ends at a line "```"; a section is the text from
its heading line ("## Steps") to the next "## " heading.  The values a
guide leaves to the site (a port, a directory) are replaced by fill(),
which insists that each is there: a renamed placeholder is an error, not
a block that silently runs with the guide's own value.
"""

import os
import re

from harness import stack

DOC = os.path.join(stack.ROOT, "doc")


def path(name):
    """doc/NAME, the guide's file in the checkout."""
    return os.path.join(DOC, name)


def section(text, heading):
    """The part of text from the line heading to the next "## " heading."""
    start = text.index("\n" + heading + "\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end == -1 else text[start:end]


def blocks(file, heading=None, kind="sh"):
    """The ```kind blocks of file (of its section heading, if given), in
    order."""
    with open(file) as f:
        text = f.read()
    if heading is not None:
        text = section(text, heading)
    return re.findall(r"^```%s\n(.*?)^```$" % re.escape(kind), text,
                      re.MULTILINE | re.DOTALL)


def block(file, heading, marker):
    """The one ```sh block of file's section heading containing marker."""
    for b in blocks(file, heading):
        if marker in b:
            return b
    raise AssertionError("%s %s: no sh block with %r" % (
        os.path.basename(file), heading, marker))


def fill(text, values):
    """text with each placeholder (a key of values) replaced by its value;
    each must be there."""
    for old, new in values.items():
        assert old in text, "guide block lacks %r:\n%s" % (old, text)
        text = text.replace(old, new)
    return text


def fill_site(text, pairs, keep_out=(), port=None):
    """text with each (old, new) of pairs replaced, in order, where it
    occurs (a guide's site values, not all of them in every block); then
    none of keep_out, the guide's own values, may be left, nor its port
    as a number of its own."""
    for old, new in pairs:
        text = text.replace(old, new)
    left = [v for v in keep_out if v in text]
    if port is not None and re.search(r"(?<![0-9])%s(?![0-9])" % port,
                                      text):
        left.append(port)
    assert not left, "guide block keeps %r:\n%s" % (left, text)
    return text
