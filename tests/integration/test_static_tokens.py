"""The static build (libjwt 1.17.2 built by scripts/static-libjwt) and the
dynamic one (Debian's libjwt 1.10.2) give the same verdict, reason and
claims on every token of the corpus: the fuzz seeds, what the fuzz runs
found (build/fuzz/corpus, when there), and the cases of the unit tests
made again here with Python's hmac; and both sign the bytes PyJWT makes.

tests/fuzz/token_verdicts.c replays the tokens: `make unit` builds it with
the unit tests (with the sanitizers under `make sanitize`), this test
builds its static twin beside the static programs."""

import base64
import glob
import hashlib
import hmac
import os
import subprocess

import jwt
import pytest

from harness import stack

CUR = b"otas-fuzz-current-secret-0123456789abcdef"
PREV = b"otas-fuzz-previous-secret-0123456789abcdef"
STRANGER = b"otas-fuzz-stranger-secret-0123456789abcdef"
NOW = 1750000000
SID = "0190a8c4-5e3f-7b2a-9c1d-4e5f6a7b8c9d"
AID = "0190a8c4-0000-7000-8000-000000000001"
HEAD = '{"alg":"HS256","typ":"JWT"}'
IDS = '"agent_id":"%s","agent_session_id":"%s"' % (AID, SID)
TIMES = '"exp":%d,"iat":%d' % (NOW + 3600, NOW)
BODY = "{%s,%s}" % (IDS, TIMES)
CORPUS = os.path.join(stack.ROOT, "tests", "fuzz", "corpus")
FOUND = os.path.join(stack.ROOT, "build", "fuzz", "corpus")


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def craft(head, body, key=CUR, digest=hashlib.sha256):
    signed = b64(head.encode()) + b"." + b64(body.encode())
    return signed + b"." + b64(hmac.new(key, signed, digest).digest())


def tamper(tok, at):
    b = bytearray(tok)
    b[at] = ord("B") if b[at] == ord("A") else ord("A")
    return bytes(b)


GOOD = craft(HEAD, BODY)

# name -> (token, the verdict's start): each case says what it expects, so
# two builds that agree on a wrong answer still fail.
CASES = {
    "valid": (GOOD, "ok " + SID),
    "valid_previous": (craft(HEAD, BODY, PREV), "ok "),
    "pyjwt": (jwt.encode({"agent_session_id": SID, "agent_id": AID,
                          "iat": NOW, "exp": NOW + 3600}, CUR,
                         algorithm="HS256").encode(), "ok "),
    "kid_no_typ": (craft('{"alg":"HS256","kid":"k1"}', BODY), "ok "),
    "typ_lower": (craft('{"alg":"HS256","typ":"jwt"}', BODY), "ok "),
    "spaces": (craft('{ "alg" : "HS256" }', "{ %s , %s }" % (IDS, TIMES)),
               "ok "),
    "stranger": (craft(HEAD, BODY, STRANGER), "no bad signature"),
    "short_key": (craft(HEAD, BODY, CUR[:31]), "no bad signature"),
    "hs384": (craft('{"alg":"HS384","typ":"JWT"}', BODY,
                    digest=hashlib.sha384), "no algorithm not HS256"),
    "hs512": (craft('{"alg":"HS512","typ":"JWT"}', BODY,
                    digest=hashlib.sha512), "no algorithm not HS256"),
    "hs256_lower": (craft('{"alg":"hs256","typ":"JWT"}', BODY),
                    "no algorithm not HS256"),
    "alg_none": (b64(b'{"alg":"none"}') + b"." + b64(BODY.encode()) + b".",
                 "no empty segment"),
    "alg_none_signed": (craft('{"alg":"none","typ":"JWT"}', BODY),
                        "no algorithm not HS256"),
    "alg_twice": (craft('{"alg":"none","alg":"HS256"}', BODY),
                  "no duplicate JSON member"),
    "exp_twice": (craft(HEAD, '{%s,"exp":"x",%s}' % (IDS, TIMES)),
                  "no duplicate JSON member"),
    "crit": (craft('{"alg":"HS256","crit":["exp"]}', BODY),
             "no crit header"),
    "typ_other": (craft('{"alg":"HS256","typ":"at+jwt"}', BODY),
                  "no typ not JWT"),
    "typ_number": (craft('{"alg":"HS256","typ":7}', BODY), "no typ not JWT"),
    "exp_string": (craft(HEAD, '{%s,"exp":"%d","iat":%d}' % (
        IDS, NOW + 3600, NOW)), "no bad claim exp"),
    "exp_real": (craft(HEAD, '{%s,"exp":1.75e9,"iat":%d}' % (IDS, NOW)),
                 "no bad claim exp"),
    "iat_real": (craft(HEAD, '{%s,"exp":%d,"iat":%d.0}' % (
        IDS, NOW + 3600, NOW)), "no bad claim iat"),
    "iat_zero": (craft(HEAD, '{%s,"exp":%d,"iat":0}' % (IDS, NOW + 3600)),
                 "no bad claim iat"),
    "expired": (craft(HEAD, '{%s,"exp":%d,"iat":%d}' % (
        IDS, NOW - 60, NOW - 7200)), "no expired"),
    "future": (craft(HEAD, '{%s,"exp":%d,"iat":%d}' % (
        IDS, NOW + 7200, NOW + 61)), "no issued in the future"),
    "upper_uuid": (craft(HEAD, '{"agent_id":"%s","agent_session_id":"%s",'
                         '%s}' % (AID.upper(), SID, TIMES)),
                   "no bad claim agent_id"),
    "escaped_uuid": (craft(HEAD, '{"agent_id":"\\u0030%s",'
                           '"agent_session_id":"%s",%s}' % (
                               AID[1:], SID, TIMES)), "no JSON escape"),
    "twelve_dot": (craft(HEAD, '{"x":[12.,5],%s,%s}' % (IDS, TIMES)),
                   "no bad signature"),
    "leading_zero": (craft(HEAD, '{"x":01,%s,%s}' % (IDS, TIMES)),
                     "no bad signature"),
    "nan": (craft(HEAD, '{"x":NaN,%s,%s}' % (IDS, TIMES)),
            "no bad signature"),
    "overflow_real": (craft(HEAD, '{"x":1e999,%s,%s}' % (IDS, TIMES)),
                      "no bad signature"),
    "nineteen_digits": (craft(HEAD, '{"x":1234567890123456789,%s,%s}' % (
        IDS, TIMES)), "no JSON number too long"),
    "deep": (craft(HEAD, '{"x":%s1%s,%s,%s}' % ("[" * 16, "]" * 16, IDS,
                                                 TIMES)),
             "no JSON nested too deep"),
    "wide": (craft(HEAD, "{%s,%s,%s}" % (IDS, TIMES, ",".join(
        '"m%d":0' % i for i in range(29)))),
             "no JSON object with too many members"),
    "not_ascii": (craft(HEAD, '{"x":"\u00e9",%s,%s}' % (IDS, TIMES)),
                  "no JSON byte outside printable ASCII"),
    "header_array": (craft('["HS256"]', BODY), "no JSON not an object"),
    "claims_array": (craft(HEAD, "[%s]" % BODY), "no JSON not an object"),
    "trailing": (craft(HEAD, BODY + "x"), "no bad signature"),
    "tampered_claims": (tamper(GOOD, GOOD.index(b".") + 5),
                        "no bad signature"),
    "tampered_signature": (tamper(GOOD, GOOD.rindex(b".") + 3),
                           "no bad signature"),
    "sig_not_canonical": (GOOD[:-1] + (b"Z" if GOOD[-1:] != b"Z" else b"Y"),
                          "no "),
    "four_segments": (GOOD + b".AAAA", "no not three segments"),
    "too_long": (b"A" * 10 + b"." + b"A" * 10 + b"." + b"A" * 4100,
                 "no too long"),
    "plus": (GOOD.replace(b".", b"+", 1), "no "),
    "empty": (b"", "no empty"),
}


def verdicts(tool, args):
    """{argument: verdict} of token-verdicts over args, in batches."""
    out = {}
    for i in range(0, len(args), 400):
        r = subprocess.run([tool] + args[i:i + 400], capture_output=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        for line in r.stdout.decode().splitlines():
            name, _, verdict = line.partition(" ")
            out[name] = verdict
    return out


@pytest.fixture(scope="module")
def tools(static_build):
    """(dynamic, static) token-verdicts."""
    build = stack.build_path()
    dynamic = os.path.join(build, "tests", "token-verdicts")
    static = os.path.join(static_build, "tests", "token-verdicts")
    r = subprocess.run(["make", "--no-print-directory", "-C", stack.ROOT,
                        "BUILD=" + build, static], capture_output=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert os.access(dynamic, os.X_OK), "make unit builds " + dynamic
    return dynamic, static


def test_static_and_dynamic_builds_sign_the_same_bytes_as_pyjwt(tools):
    want = jwt.encode({"agent_id": AID, "agent_session_id": SID,
                       "exp": NOW + 3600, "iat": NOW}, CUR,
                      algorithm="HS256")
    for tool in tools:
        assert verdicts(tool, ["sign"]) == {"sign": want}, tool


def test_static_and_dynamic_builds_agree_on_every_token(tools, tmp_path):
    args = []
    for name, (tok, _) in CASES.items():
        path = tmp_path / name
        path.write_bytes(tok)
        args.append("raw:%s" % path)
    for top in (CORPUS, FOUND):
        args += ["raw:" + p for p in sorted(glob.glob(
            os.path.join(top, "token", "*")))]
        args += ["input:" + p for p in sorted(glob.glob(
            os.path.join(top, "token_diff", "*")))]
    dynamic, static = (verdicts(tool, args) for tool in tools)
    assert len(dynamic) == len(args)
    differ = {a: (dynamic[a], static.get(a)) for a in args
              if dynamic[a] != static.get(a)}
    assert differ == {}
    wrong = {name: dynamic["raw:%s" % (tmp_path / name)]
             for name, (_, want) in CASES.items()
             if not dynamic["raw:%s" % (tmp_path / name)].startswith(want)}
    assert wrong == {}
