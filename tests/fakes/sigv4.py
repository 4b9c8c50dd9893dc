"""AWS Signature Version 4 (standard library only): the verifier of the fake
EC2 server (fake_ec2.py), a small signer for tests, and a runner for the
official test suite (shared/data/aws-sig-v4-test-suite/).

    from sigv4 import sign, verify, run_suite

    headers = sign("POST", "http://127.0.0.1:PORT/", {"Content-Type": ...}, body,
                   "AKID", "SECRET", "us-east-1", "ec2")      # -> headers to send
    result = verify(method, raw_path_and_query, header_pairs, body, lookup_secret, ...)

Canonicalization follows
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
for services other than S3: the path is normalized (no empty, "." or ".."
segments) and every segment is URI-encoded once more (RFC 3986 unreserved
characters kept, everything else %XY upper-case); query names and values are
decoded, re-encoded the same way and sorted by name then value; header values
are trimmed with inner runs of spaces collapsed, repeated headers joined with
",".
"""

import datetime
import hashlib
import hmac
import os
import re
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def uri_encode(text, keep_slash=False):
    """RFC 3986 encoding as SigV4 wants it: unreserved characters as they are,
    every other byte of the UTF-8 form as %XY (upper-case hex)."""
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogateescape")
    out = []
    for b in text:
        c = chr(b)
        if c in UNRESERVED or (keep_slash and c == "/"):
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def canonical_uri(raw_path, normalize=True):
    """The canonical URI of a path as sent on the wire (percent-encoded or
    not): normalized, each segment encoded (again)."""
    if isinstance(raw_path, bytes):
        raw_path = raw_path.decode("utf-8", "surrogateescape")
    if not raw_path:
        return "/"
    if normalize:
        segments = []
        for seg in raw_path.split("/"):
            if seg in ("", "."):
                continue
            if seg == "..":
                if segments:
                    segments.pop()
                continue
            segments.append(seg)
        path = "/" + "/".join(segments)
        if raw_path.endswith("/") and segments:
            path += "/"
    else:
        path = raw_path
    return "/".join(uri_encode(seg) for seg in path.split("/"))


def canonical_query(raw_query):
    """The canonical query string of a raw query string (the part after "?")."""
    if isinstance(raw_query, bytes):
        raw_query = raw_query.decode("utf-8", "surrogateescape")
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = urllib.parse.unquote(name, errors="surrogateescape")
        value = urllib.parse.unquote(value, errors="surrogateescape")
        pairs.append((uri_encode(name), uri_encode(value)))
    pairs.sort()
    return "&".join("%s=%s" % p for p in pairs)


_SPACES = re.compile(r"\s+")


def canonical_header_value(values):
    """One header's canonical value from its values in request order."""
    return ",".join(_SPACES.sub(" ", v.strip()) for v in values)


def canonical_request(method, raw_path, raw_query, headers, signed_headers, payload_hash,
                      normalize=True):
    """headers: {lower-case name: [values in order]}; signed_headers: the
    lower-case names. Returns the canonical request text. KeyError names a
    signed header that the request lacks."""
    names = sorted(signed_headers)
    lines = [method.upper(), canonical_uri(raw_path, normalize), canonical_query(raw_query)]
    lines += ["%s:%s" % (n, canonical_header_value(headers[n])) for n in names]
    lines += ["", ";".join(names), payload_hash]
    return "\n".join(lines)


def string_to_sign(amz_date, scope, creq):
    return "\n".join([ALGORITHM, amz_date, scope,
                      hashlib.sha256(creq.encode("utf-8", "surrogateescape")).hexdigest()])


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def signature(secret, date, region, service, sts):
    return hmac.new(signing_key(secret, date, region, service), sts.encode("utf-8"),
                    hashlib.sha256).hexdigest()


# ---- signing (for tests and hand checks) -----------------------------------------

def sign(method, url, headers, body, access_key, secret_key, region, service="ec2",
         session_token=None, amz_date=None):
    """Signs a request; returns the headers to send (the given ones plus Host,
    X-Amz-Date, X-Amz-Security-Token with a session token, and Authorization).
    Signs every header given plus host and x-amz-date."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = body or b""
    u = urllib.parse.urlsplit(url)
    amz_date = amz_date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = dict(headers or {})
    lower = {k.lower(): k for k in out}
    if "host" not in lower:
        out["Host"] = u.netloc
    out["X-Amz-Date"] = amz_date
    if session_token:
        out["X-Amz-Security-Token"] = session_token
    hv = {}
    for k, v in out.items():
        hv.setdefault(k.lower(), []).append(str(v))
    signed = sorted(hv)
    creq = canonical_request(method, u.path or "/", u.query, hv, signed,
                             hashlib.sha256(body).hexdigest())
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sig = signature(secret_key, amz_date[:8], region, service,
                    string_to_sign(amz_date, scope, creq))
    out["Authorization"] = "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ALGORITHM, access_key, scope, ";".join(signed), sig)
    return out


# ---- verifying -----------------------------------------------------------------

class AuthError(Exception):
    """code (an EC2 error code), status (HTTP) and message."""

    def __init__(self, code, status, message):
        Exception.__init__(self, "%s: %s" % (code, message))
        self.code = code
        self.status = status
        self.message = message


_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.S)


def parse_authorization(value):
    """{"Credential": ..., "SignedHeaders": ..., "Signature": ...} of an
    AWS4-HMAC-SHA256 Authorization header, or None when malformed."""
    m = _AUTH_RE.match(value.strip())
    if not m:
        return None
    parts = {}
    for item in m.group(1).split(","):
        k, sep, v = item.strip().partition("=")
        if not sep:
            return None
        parts[k.strip()] = v.strip()
    if not all(k in parts for k in ("Credential", "SignedHeaders", "Signature")):
        return None
    return parts


def verify(method, raw_path, raw_query, headers, body, secrets, region, service,
           session_token=None, now=None, max_skew=900):
    """Checks a request's SigV4 signature. headers: {lower-case name: [values]}
    as received; secrets: {access key id: secret}. Returns the access key id;
    raises AuthError (code, HTTP status, message) otherwise. Checks, in order:
    the header is there and well-formed, the access key is known, the scope
    (region, service, aws4_request, date = X-Amz-Date's), host and x-amz-date
    are signed, the session token, the signature, and the clock skew."""
    auth = headers.get("authorization")
    if not auth:
        raise AuthError("AuthFailure", 401,
                        "AWS was not able to validate the provided access credentials: "
                        "no Authorization header (expected AWS4-HMAC-SHA256)")
    parts = parse_authorization(auth[0])
    if parts is None:
        raise AuthError("IncompleteSignature", 400,
                        "Authorization header is not 'AWS4-HMAC-SHA256 Credential=AKID/DATE/"
                        "REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX': %r"
                        % auth[0][:200])
    cred = parts["Credential"].split("/")
    if len(cred) != 5:
        raise AuthError("IncompleteSignature", 400,
                        "Credential must be AKID/DATE/REGION/SERVICE/aws4_request, not %r"
                        % parts["Credential"])
    akid, date, cregion, cservice, term = cred
    if akid not in secrets:
        raise AuthError("AuthFailure", 401,
                        "AWS was not able to validate the provided access credentials "
                        "(unknown access key id %r)" % akid)
    if cregion != region:
        raise AuthError("AuthFailure", 401,
                        "Credential should be scoped to a valid region, not '%s' "
                        "(this endpoint is '%s')" % (cregion, region))
    if cservice != service:
        raise AuthError("AuthFailure", 401,
                        "Credential should be scoped to correct service: '%s', not '%s'"
                        % (service, cservice))
    if term != "aws4_request":
        raise AuthError("AuthFailure", 401,
                        "Credential should be scoped with a valid terminator: 'aws4_request', "
                        "not '%s'" % term)
    amz = headers.get("x-amz-date")
    if not amz:
        raise AuthError("IncompleteSignature", 400, "Missing X-Amz-Date header")
    amz_date = amz[0].strip()
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise AuthError("IncompleteSignature", 400,
                        "X-Amz-Date must be YYYYMMDDTHHMMSSZ, not %r" % amz_date)
    if date != amz_date[:8]:
        raise AuthError("SignatureDoesNotMatch", 403,
                        "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                        "version of date from HTTP: '%s' != '%s'" % (date, amz_date[:8]))
    signed = parts["SignedHeaders"].split(";")
    if signed != sorted(signed) or any(s != s.lower() or not s for s in signed):
        raise AuthError("SignatureDoesNotMatch", 403,
                        "SignedHeaders must be lower-case names sorted and joined by ';': %r"
                        % parts["SignedHeaders"])
    for need in ("host", "x-amz-date"):
        if need not in signed:
            raise AuthError("AuthFailure", 401,
                            "'%s' must be among the signed headers (SignedHeaders=%s)"
                            % (need, parts["SignedHeaders"]))
    for name in signed:
        if name not in headers:
            raise AuthError("AuthFailure", 401,
                            "signed header '%s' is not in the request" % name)
    token = headers.get("x-amz-security-token")
    if session_token is not None:
        if not token:
            raise AuthError("AuthFailure", 401,
                            "these credentials need a session token: send "
                            "X-Amz-Security-Token and sign it")
        if token[0].strip() != session_token:
            raise AuthError("AuthFailure", 401, "The security token included in the request "
                            "is invalid")
        if "x-amz-security-token" not in signed:
            raise AuthError("AuthFailure", 401,
                            "x-amz-security-token must be among the signed headers")
    elif token:
        raise AuthError("AuthFailure", 401, "The security token included in the request is "
                        "invalid (these credentials have no session token)")
    creq = canonical_request(method, raw_path, raw_query, headers, signed,
                             hashlib.sha256(body).hexdigest())
    scope = "%s/%s/%s/aws4_request" % (date, cregion, cservice)
    sts = string_to_sign(amz_date, scope, creq)
    want = signature(secrets[akid], date, cregion, cservice, sts)
    if not hmac.compare_digest(want, parts["Signature"].lower()):
        raise AuthError("SignatureDoesNotMatch", 403,
                        "The request signature we calculated does not match the signature you "
                        "provided. Check your AWS Secret Access Key and signing method. "
                        "The canonical request was:\n%s\nThe string to sign was:\n%s"
                        % (creq, sts))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if abs((now - when).total_seconds()) > max_skew:
        raise AuthError("RequestExpired", 403,
                        "Request has expired: X-Amz-Date %s is more than %d minutes from "
                        "the server's time %s" % (amz_date, max_skew // 60,
                                                  now.strftime("%Y%m%dT%H%M%SZ")))
    return akid


# ---- the official test suite -------------------------------------------------------

SUITE_ACCESS_KEY = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_REGION = "us-east-1"
SUITE_SERVICE = "service"
SUITE_DATE = "20150830T123600Z"


def parse_raw_request(data):
    """(method, raw path, raw query, {lower-case name: [values]}, body) of a
    test suite .req file (bytes). A line starting with whitespace continues
    the header before it as one more value."""
    head, sep, body = data.partition(b"\n\n")
    lines = head.decode("utf-8", "surrogateescape").split("\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rsplit(" ", 1)[0]
    path, _, query = target.partition("?")
    headers = {}
    last = None
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and last is not None:
            headers[last].append(line)
            continue
        name, _, value = line.partition(":")
        last = name.strip().lower()
        headers.setdefault(last, []).append(value)
    return method, path, query, headers, body


def suite_cases(suite_dir):
    """Directories of the suite holding a <case>.req, sorted."""
    out = []
    for root, dirs, files in os.walk(suite_dir):
        name = os.path.basename(root)
        if name + ".req" in files:
            out.append(root)
    return sorted(out)


def run_suite(suite_dir, verbose=False):
    """Runs every case: the canonical request must equal .creq, the string to
    sign .sts, and the signature the one in .authz; verify() must accept the
    request with its Authorization header. Returns (passed, total, failures)."""
    failures = []
    cases = suite_cases(suite_dir)
    when = datetime.datetime.strptime(SUITE_DATE, "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.timezone.utc)
    for d in cases:
        name = os.path.basename(d)
        base = os.path.join(d, name)
        with open(base + ".req", "rb") as f:
            method, path, query, headers, body = parse_raw_request(f.read())
        with open(base + ".creq", "rb") as f:
            want_creq = f.read().decode("utf-8")
        with open(base + ".sts", "rb") as f:
            want_sts = f.read().decode("utf-8")
        with open(base + ".authz", "rb") as f:
            authz = f.read().decode("utf-8").strip()
        parts = parse_authorization(authz)
        signed = parts["SignedHeaders"].split(";")
        creq = canonical_request(method, path, query, headers, signed,
                                 hashlib.sha256(body).hexdigest())
        scope = parts["Credential"].split("/", 1)[1]
        sts = string_to_sign(headers["x-amz-date"][0].strip(), scope, creq)
        sig = signature(SUITE_SECRET, SUITE_DATE[:8], SUITE_REGION, SUITE_SERVICE, sts)
        problems = []
        if creq != want_creq:
            problems.append("canonical request differs:\n%s\n--- expected:\n%s" % (creq, want_creq))
        if sts != want_sts:
            problems.append("string to sign differs")
        if sig != parts["Signature"]:
            problems.append("signature %s, expected %s" % (sig, parts["Signature"]))
        if not problems:
            hv = dict(headers)
            hv["authorization"] = [authz]
            token = hv.get("x-amz-security-token", [None])[0]
            if token is not None and "x-amz-security-token" not in signed:
                token = None       # the "after" case: the token is not signed
                del hv["x-amz-security-token"]
            try:
                verify(method, path, query, hv, body, {SUITE_ACCESS_KEY: SUITE_SECRET},
                       SUITE_REGION, SUITE_SERVICE, session_token=token, now=when)
            except AuthError as e:
                problems.append("verify() refused it: %s" % e)
        rel = os.path.relpath(d, suite_dir)
        if problems:
            failures.append((rel, problems))
            if verbose:
                print("FAIL %s: %s" % (rel, "; ".join(problems)))
        elif verbose:
            print("ok   %s" % rel)
    return len(cases) - len(failures), len(cases), failures
