#!/usr/bin/env python3
"""A fake AWS EC2 Query API server whose instances are real sshd processes
(standard library only). See README.md next to this file.

    from fake_ec2 import FakeEC2
    with FakeEC2(workdir) as ec2:      # HTTP on 127.0.0.1:<free port>, in threads
        ec2.url                        # "http://127.0.0.1:PORT/"
        ec2.checkip_url                # answers "127.0.0.1\\n"
        ...                            # fault switches, inspection: see FakeEC2

Every request must carry a valid SigV4 signature (sigv4.py); every launched
instance boots an OpenSSH sshd on its own loopback address (127.0.1.1,
127.0.1.2, ... port 22, claimed with sshnodes' flock so that concurrent runs
never collide; see fakenodes.py) with the host key that the cloud-config user
data carries and the key pair's public key as its only authorized key, for the
login user `skytest` (shell /bin/sh).

Command line:
    fake_ec2.py --workdir DIR [--latency-ms MS] [--access-key K --secret-key S]
                [--region R] [--url-file F] [--port P] [--verbose]
        serves until SIGTERM / SIGINT; writes the URL to F once listening.
    fake_ec2.py --selftest [--suite DIR]
        checks sigv4.py against the official SigV4 test suite.
"""

import argparse
import base64
import datetime
import fnmatch
import hashlib
import http.server
import ipaddress
import os
import secrets
import signal
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (HERE, os.path.join(os.path.dirname(HERE), "integration")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import fakehttp   # noqa: E402
import fakenodes  # noqa: E402
import sigv4      # noqa: E402

XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
OWNER_ID = "123456789012"
AMAZON_OWNER_ID = "898082745236"
DEFAULT_VPC = "vpc-0d1e2f3a4b5c6d7e8"
SUITE_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "data",
                                          "aws-sig-v4-test-suite"))
if not os.path.isdir(SUITE_DIR):
    SUITE_DIR = "/work/shared/data/aws-sig-v4-test-suite"

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}

# $/hour, zone "a" of the region; zone "b" is ZONE_B_FACTOR dearer
DEFAULT_SPOT_PRICES = {
    "g4dn.xlarge": 0.2104,
    "g5.xlarge": 0.4024,
    "g5.2xlarge": 0.4849,
    "g6.xlarge": 0.3220,
    "p3.2xlarge": 0.9180,
    "p4d.24xlarge": 11.5705,
    "p5.48xlarge": 35.4000,
}
ZONE_B_FACTOR = 1.07

DLAMI_NAME = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)"

STATUS = {"AuthFailure": 401, "UnauthorizedOperation": 403, "SignatureDoesNotMatch": 403,
          "RequestExpired": 403, "InsufficientInstanceCapacity": 500, "InternalError": 500,
          "RequestLimitExceeded": 503, "DryRunOperation": 412}

ADDRESS_BLOCKS = fakenodes.ADDRESS_BLOCKS    # 127.0.B.H for B in 1..31, H in 1..254
_ADDRESSES = fakenodes.ADDRESSES
SSHD_START_TIMEOUT = fakenodes.START_TIMEOUT  # many instances boot at once on a small machine
MAX_BODY = 1 << 20
USER_DATA_LIMIT = 16384


class EC2Error(Exception):
    def __init__(self, code, message, status=None):
        Exception.__init__(self, "%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.status = status or STATUS.get(code, 400)


def _hex17():
    return secrets.token_hex(9)[:17]


def _iso(t):
    """ISO 8601 UTC with milliseconds and Z, as EC2 writes times."""
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def _el(name, value):
    """<name>value</name> (value escaped); <name/> when value is None or ""."""
    if value is None or value == "":
        return "<%s/>" % name
    if isinstance(value, bool):
        value = "true" if value else "false"
    return "<%s>%s</%s>" % (name, escape(str(value)), name)


def _set(name, items):
    """<name><item>...</item>...</name> of already rendered items."""
    if not items:
        return "<%s/>" % name
    return "<%s>%s</%s>" % (name, "".join("<item>%s</item>" % i for i in items), name)


# ---- request parameters -----------------------------------------------------------

def _numbered(params, prefix):
    """Values of prefix.1, prefix.2, ... (in index order, gaps allowed)."""
    out = []
    plen = len(prefix) + 1
    for k, v in params.items():
        if k.startswith(prefix + ".") and k[plen:].isdigit():
            out.append((int(k[plen:]), v))
    return [v for _, v in sorted(out)]


def _structs(params, prefix):
    """[{rest: value}] of prefix.N.rest parameters, in index order."""
    groups = {}
    plen = len(prefix) + 1
    for k, v in params.items():
        if not k.startswith(prefix + "."):
            continue
        idx, dot, rest = k[plen:].partition(".")
        if idx.isdigit() and dot:
            groups.setdefault(int(idx), {})[rest] = v
    return [groups[i] for i in sorted(groups)]


def _filters(params):
    """[(name, [values])] of Filter.N.Name / Filter.N.Value.M."""
    out = []
    for f in _structs(params, "Filter"):
        name = f.get("Name")
        if not name:
            raise EC2Error("InvalidParameterValue", "a Filter has no Name")
        out.append((name, _numbered(f, "Value")))
    return out


def _required(params, name):
    v = params.get(name)
    if v is None or v == "":
        raise EC2Error("MissingParameter", "The request must contain the parameter %s" % name)
    return v


def _int(params, name, default=None, low=None, high=None):
    v = params.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise EC2Error("InvalidParameterValue", "Invalid value '%s' for %s" % (v, name))
    if (low is not None and n < low) or (high is not None and n > high):
        raise EC2Error("InvalidParameterValue",
                       "Value (%d) for parameter %s is invalid. Expected a value between "
                       "%s and %s." % (n, name, low, high))
    return n


def _match(patterns, value):
    """EC2 filter values match with * and ? wildcards."""
    if value is None:
        return False
    return any(fnmatch.fnmatchcase(str(value), p) for p in patterns)


def _page(items, params, default_max=None, low=1, high=1000):
    """(page, next token or None) of items for MaxResults / NextToken."""
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)[1])
        except (ValueError, IndexError, UnicodeDecodeError):
            raise EC2Error("InvalidParameterValue", "Invalid NextToken '%s'" % token)
    n = _int(params, "MaxResults", default_max, low, high)
    if n is None:
        return items[start:], None
    page = items[start:start + n]
    nxt = None
    if start + n < len(items):
        nxt = base64.urlsafe_b64encode(("page:%d" % (start + n)).encode()).decode()
    return page, nxt


# ---- user data ------------------------------------------------------------------

def parse_cloud_config_host_key(text):
    """(private key text or None, public key line or None, problem or None) of
    the cloud-config ssh_keys shape that skyfs writes:

        #cloud-config
        ssh_keys:
          ed25519_private: |
            -----BEGIN OPENSSH PRIVATE KEY-----
            ...
          ed25519_public: ssh-ed25519 AAAA... comment
    """
    if text is None or text == "":
        return None, None, "no user data"
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[0].strip() != "#cloud-config":
        return None, None, "user data does not start with #cloud-config"
    if not any(l.strip() == "ssh_keys:" for l in lines):
        return None, None, "no ssh_keys: in the cloud-config"
    priv = pub = None
    for i, line in enumerate(lines):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if stripped.startswith("ed25519_public:"):
            pub = stripped[len("ed25519_public:"):].strip().strip("'\"") or None
        elif stripped.startswith("ed25519_private:"):
            rest = stripped[len("ed25519_private:"):].strip()
            if rest not in ("|", "|-", "|+"):
                return None, pub, "ed25519_private is not a literal block (|)"
            block = []
            for l in lines[i + 1:]:
                if l.strip() == "":
                    block.append("")
                    continue
                if len(l) - len(l.lstrip(" ")) <= indent:
                    break
                block.append(l)
            while block and block[-1] == "":
                block.pop()
            if not block:
                return None, pub, "ed25519_private is empty"
            cut = len(block[0]) - len(block[0].lstrip(" "))
            body = [l[cut:] if l[:cut].strip() == "" else l.lstrip(" ") for l in block]
            priv = "\n".join(body) + "\n"
    if priv is None:
        return None, pub, "no ssh_keys.ed25519_private in the cloud-config"
    if not (priv.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
            and priv.rstrip().endswith("-----END OPENSSH PRIVATE KEY-----")):
        return None, pub, "ed25519_private is not an OpenSSH private key"
    return priv, pub, None


def parse_public_key(line):
    """(type, blob bytes, comment) of an OpenSSH public key line; ValueError."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2:
        raise ValueError("not 'type base64 [comment]'")
    kind, b64 = parts[0], parts[1]
    if kind not in ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                    "ecdsa-sha2-nistp521"):
        raise ValueError("unknown key type %r" % kind)
    blob = base64.b64decode(b64, validate=True)
    if len(blob) < 4:
        raise ValueError("short key blob")
    n = struct.unpack(">I", blob[:4])[0]
    if blob[4:4 + n] != kind.encode():
        raise ValueError("key blob is not of type %s" % kind)
    return kind, blob, parts[2] if len(parts) > 2 else ""


# "ssh-ed25519 AAAA..." of an unencrypted OpenSSH ed25519 private key;
# ValueError when it is not one that sshd would load
ed25519_public_of_private = fakenodes.public_key_of_private
_listening = fakenodes.listening     # TCP listener on address:port, from /proc/net/tcp


# ---- the model --------------------------------------------------------------------

class _Instance:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.state = "pending"
        self.state_reason = None          # (code, message)
        self.node = None                  # its fakenodes.Node (the sshd)
        self.dead = False                 # terminating: never (re)start its sshd
        self.killed = False               # its sshd and sessions are gone
        self.terminate_at = None
        self.host_key_note = None
        self.boot_error = None
        self.thread = None                # waits for the node's sshd, then "running"

    @property
    def host_public(self):
        """"ssh-ed25519 AAAA..." of the key its sshd uses (None until known)."""
        return self.node.host_public if self.node is not None else None

    @property
    def host_key_source(self):
        """"user-data", "generated" or "rekeyed"."""
        src = self.node.host_key_source if self.node is not None else None
        return {"given": "user-data"}.get(src, src)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonEC2"
    sys_version = ""
    timeout = 300

    def log_message(self, fmt, *args):
        if self.server.fake.verbose:
            sys.stderr.write("fake_ec2: %s %s\n" % (self.address_string(), fmt % args))

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
                if len(out) > MAX_BODY:
                    raise ValueError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, ctype="text/xml;charset=UTF-8"):
        data = body.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _handle(self):
        fake = self.server.fake
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(413, fake._error_xml("InvalidParameterValue", "bad or too large body"))
            return
        path, _, query = self.path.partition("?")
        if path == "/checkip":
            self._send(200, "127.0.0.1\n", "text/plain")
            return
        if path not in ("", "/"):
            self._send(404, fake._error_xml("InvalidAction", "no such path %s" % path))
            return
        self.server.lagged(self.command, path or "/", body)
        status, xml = fake._api(self.command, path or "/", query, self.headers, body)
        self.server.held(self.command, path or "/", body)
        self._send(status, xml)

    do_GET = do_POST = _handle

    def do_HEAD(self):
        self._send(405, "")


class FakeEC2:
    """The fake EC2 endpoint; a context manager (see the module docstring and
    README.md). Attributes:

    url, checkip_url, region, access_key, secret_key, session_token, user.
    Fault switches (plain attributes, change any time): latency, spot_capacity_error,
    capacity_error_types, throttle_next, server_error_next, slow_next, slow_seconds,
    deny_actions, boot_delay, terminate_delay, api_down; power_poll (seconds between
    looks for instance-initiated shutdowns). The server's hold() holds back the answer
    of a call that took effect (fakehttp.py).
    Tables: spot_prices (type -> $/h), images (list of dicts).
    Records: calls [(action, params)], errors [(action, code)].
    """

    def __init__(self, workdir, access_key="AKIDSKYFSTEST", secret_key="skyfs/test/secret",
                 region="us-east-1", user="skytest", session_token=None, port=0, verbose=False):
        self.workdir = os.path.abspath(workdir)
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.user = user
        self.session_token = session_token
        self.verbose = verbose

        # fault switches
        self.latency = 0.0
        self.spot_capacity_error = False
        self.capacity_error_types = set()
        self.throttle_next = 0
        self.server_error_next = 0
        self.slow_next = 0
        self.slow_seconds = 30.0
        self.deny_actions = set()
        self.boot_delay = 0.0
        self.terminate_delay = 0.3
        self.api_down = False
        self.power_poll = 0.1

        self.spot_prices = dict(DEFAULT_SPOT_PRICES)
        self.images = self._default_images()
        self.calls = []
        self.errors = []

        self._lock = threading.RLock()
        self._alloc_lock = threading.Lock()
        self._closing = threading.Event()
        self._closed = False
        self._instances = {}          # id -> _Instance, in launch order
        self._reservations = {}       # id -> {"id", "instances": [ids], "token", "fingerprint"}
        self._tokens = {}             # client token -> reservation id
        self._key_pairs = {}          # name -> {"name", "id", "fingerprint", "material", "type"}
        self._groups = {}             # id -> {"id", "name", "description", "vpc_id", "ingress"}
        self._server = None

        os.makedirs(self.workdir, exist_ok=True)
        self._inst_root = os.path.join(self.workdir, "instances")
        # the login user, /run/sshd; instance i-X lives in instances/i-X/
        self._host = fakenodes.NodeHost(self._inst_root, user)
        self._host.start_timeout = SSHD_START_TIMEOUT
        self._pw = self._host._pw
        os.chmod(self._inst_root, 0o755)

        self._server = fakehttp.Server(self, _Handler, port).start("fake-ec2-http")
        # instance-initiated shutdowns (the node's `shutdown` shim, fakenodes.py)
        self._power_thread = threading.Thread(target=self._power_watch,
                                              name="fake-ec2-power", daemon=True)
        self._power_thread.start()
        self.port = self._server.port
        self.url = "http://127.0.0.1:%d/" % self.port
        self.checkip_url = "http://127.0.0.1:%d/checkip" % self.port

    def daemon_env(self, secret=None):
        """The environment that points a skyfs daemon at this fake with its
        credentials (secret: another secret key, to be refused)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key if secret is None else secret,
                "AWS_ENDPOINT_URL_EC2": self.url,
                "SKYFS_CHECKIP_URL": self.checkip_url}

    # ---- context ----

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stops the server and kills every instance sshd with its sessions
        (SIGKILL), releases the address claims. RuntimeError if a process
        survives."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        if self._server is not None:
            self._server.stop()
        if getattr(self, "_power_thread", None) is not None:
            self._power_thread.join(timeout=5)
        with self._lock:
            insts = list(self._instances.values())
            for inst in insts:
                inst.dead = True
        problem = None
        try:
            self._host.close()        # every node, one sweep; no sshd starts after it
        except RuntimeError as e:
            problem = e
        deadline = time.monotonic() + 5
        for inst in insts:
            if inst.thread is not None:
                inst.thread.join(timeout=max(0.1, deadline - time.monotonic()))
        with self._lock:
            for inst in insts:
                inst.killed = True
                if inst.state != "terminated":
                    inst.state = "terminated"
                    if inst.state_reason is None:
                        inst.state_reason = ("Client.UserInitiatedShutdown",
                                             "Client.UserInitiatedShutdown: fake EC2 closed")
        if problem is not None:
            raise RuntimeError("FakeEC2: processes left behind: %s" % problem)

    # ---- inspection ----

    def _refresh(self, inst, now=None):
        """Lazy state changes (under self._lock): shutting-down -> terminated,
        stopping -> stopped."""
        if inst.state in ("shutting-down", "stopping") and inst.killed \
                and inst.terminate_at is not None:
            if (now or time.monotonic()) >= inst.terminate_at:
                inst.state = "terminated" if inst.state == "shutting-down" else "stopped"

    def _inst_dict(self, inst):
        return {
            "id": inst.id,
            "reservation_id": inst.reservation_id,
            "type": inst.type,
            "state": inst.state,
            "address": inst.address,
            "market": inst.market,
            "tags": dict(inst.tags),
            "key_name": inst.key_name,
            "group_ids": list(inst.group_ids),
            "user_data": inst.user_data,
            "client_token": inst.client_token,
            "image_id": inst.image_id,
            "state_reason": inst.state_reason[0] if inst.state_reason else None,
            "state_reason_message": inst.state_reason[1] if inst.state_reason else None,
            "availability_zone": inst.az,
            "max_price": inst.max_price,
            "launch_time": inst.launch_time,
            "host_key_source": inst.host_key_source,
            "host_key_note": inst.host_key_note,
            "boot_error": inst.boot_error,
            "sshd_pid": inst.node.pid if inst.node is not None else None,
            "shutdown_behavior": inst.shutdown_behavior,
            "shutdown_request": inst.node.shutdown_requested if inst.node is not None else None,
        }

    def instances(self, states=None):
        """Every instance (launch order) as a dict; only those in states (a
        name or a collection of names) when given."""
        if isinstance(states, str):
            states = {states}
        with self._lock:
            now = time.monotonic()
            out = []
            for inst in self._instances.values():
                self._refresh(inst, now)
                if states is None or inst.state in states:
                    out.append(self._inst_dict(inst))
            return out

    def live_instances(self):
        return [i for i in self.instances() if i["state"] != "terminated"]

    def instance(self, instance_id):
        with self._lock:
            inst = self._get(instance_id)
            self._refresh(inst)
            return self._inst_dict(inst)

    def key_pairs(self):
        with self._lock:
            return list(self._key_pairs)

    def security_groups(self):
        with self._lock:
            return [{"id": g["id"], "name": g["name"], "description": g["description"],
                     "vpc_id": g["vpc_id"], "ingress": list(g["ingress"])}
                    for g in self._groups.values()]

    def newest_image(self, pattern=DLAMI_NAME + "*"):
        """The available image whose name matches pattern with the latest creationDate."""
        found = [im for im in self.images
                 if im["state"] == "available" and fnmatch.fnmatchcase(im["name"], pattern)]
        return max(found, key=lambda im: im["creationDate"]) if found else None

    def host_key(self, instance_id):
        """"ssh-ed25519 AAAA..." of the host key the instance's sshd uses now
        (None before its sshd has started)."""
        with self._lock:
            return self._get(instance_id).host_public

    def wait_state(self, instance_id, state, timeout=30.0):
        """Waits until the instance is in state; returns its dict (TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.instance(instance_id)
            if d["state"] == state:
                return d
            if time.monotonic() >= deadline:
                raise TimeoutError("FakeEC2: %s is %s, not %s, after %.0fs"
                                   % (instance_id, d["state"], state, timeout))
            time.sleep(0.02)

    def _get(self, instance_id):
        inst = self._instances.get(instance_id)
        if inst is None:
            raise KeyError("FakeEC2: no instance %s" % instance_id)
        return inst

    # ---- test controls ----

    def reclaim(self, instance_id):
        """Spot reclaim: shutting-down at once (then terminated after
        terminate_delay) with state reason Server.SpotInstanceTermination; its
        sshd and sessions are killed before this returns."""
        with self._lock:
            inst = self._get(instance_id)
            self._begin_termination(inst, "Server.SpotInstanceTermination",
                                    "Server.SpotInstanceTermination: Spot instance termination")
        self._kill_instance(inst)

    def rekey(self, instance_id):
        """Restarts a running instance's sshd with a NEW host key (its sessions
        are killed); returns the new public key."""
        with self._lock:
            inst = self._get(instance_id)
            self._refresh(inst)
            if inst.state != "running":
                raise RuntimeError("FakeEC2: rekey(%s): it is %s, not running"
                                   % (instance_id, inst.state))
            if inst.dead:
                raise RuntimeError("FakeEC2: rekey(%s): it is terminating" % instance_id)
        try:
            pub = inst.node.rekey()
        except RuntimeError as e:
            if inst.dead:
                raise RuntimeError("FakeEC2: rekey(%s): it is terminating" % instance_id)
            raise RuntimeError("FakeEC2: %s" % e)
        with self._lock:
            inst.host_key_note = "rekey() replaced the host key"
        return pub

    # ---- instances ----

    def _begin_stop(self, inst, code, message):
        """Under self._lock: an instance-initiated shutdown of an instance
        launched with InstanceInitiatedShutdownBehavior=stop: stopping, then
        stopped (terminate_delay). The fake never starts it again."""
        self._refresh(inst)
        if inst.state not in ("pending", "running"):
            return
        inst.state = "stopping"
        inst.state_reason = (code, message)
        inst.dead = True
        inst.terminate_at = time.monotonic() + max(0.0, float(self.terminate_delay))

    def _power_watch(self):
        """Acts on the power-off requests of the instances' sessions (the
        node's shutdown shim writes node.shutdown_flag): an instance launched
        with InstanceInitiatedShutdownBehavior=terminate is terminated, any
        other is stopped, both with state reason
        Client.InstanceInitiatedShutdown."""
        while not self._closing.wait(max(0.01, float(self.power_poll))):
            todo = []
            with self._lock:
                for inst in self._instances.values():
                    if inst.dead or inst.node is None or \
                            inst.state not in ("pending", "running"):
                        continue
                    if not os.path.exists(inst.node.shutdown_flag):
                        continue
                    code = "Client.InstanceInitiatedShutdown"
                    msg = "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
                    if inst.shutdown_behavior == "terminate":
                        self._begin_termination(inst, code, msg)
                    else:
                        self._begin_stop(inst, code, msg)
                    todo.append(inst)
            if todo:
                self._kill_instances(todo)

    def _begin_termination(self, inst, code, message):
        """Under self._lock: (previous state, current state)."""
        self._refresh(inst)
        prev = inst.state
        if prev in ("shutting-down", "terminated"):
            return prev, prev
        inst.state = "shutting-down"
        inst.state_reason = (code, message)
        inst.dead = True
        inst.terminate_at = time.monotonic() + max(0.0, float(self.terminate_delay))
        return prev, "shutting-down"

    def _kill_instances(self, insts):
        """Kills the instances' sshd and sessions (one sweep) and gives their
        addresses back."""
        try:
            self._host.kill_nodes([i.node for i in insts if i.node is not None])
        except RuntimeError as e:
            sys.stderr.write("fake_ec2: %s\n" % e)
        with self._lock:
            for inst in insts:
                inst.killed = True

    def _kill_instance(self, inst):
        self._kill_instances([inst])

    def _fail_instance(self, inst, message):
        sys.stderr.write("fake_ec2: instance %s failed to boot: %s\n" % (inst.id, message))
        with self._lock:
            inst.boot_error = message
            self._begin_termination(inst, "Server.InternalError",
                                    "Server.InternalError: Internal error on launch (%s)"
                                    % message.splitlines()[0][:200])
        self._kill_instance(inst)

    def _host_key_of(self, user_data):
        """(private key text or None, note) from the user data's cloud-config:
        None (the node generates one, as a machine without cloud-init would)
        when it is missing or malformed, the note saying why."""
        priv, pub, problem = parse_cloud_config_host_key(user_data)
        if priv is None:
            return None, problem
        try:
            derived = ed25519_public_of_private(priv)
        except ValueError as e:
            return None, "ed25519_private does not load (%s)" % e
        if pub and " ".join(pub.split()[:2]) != derived:
            return priv, ("ed25519_public does not match ed25519_private; sshd uses the "
                          "private key's")
        return priv, None

    def _watch(self, inst):
        """The instance's boot: pending until its sshd listens (and boot_delay
        passed), then running; terminated (Server.InternalError) when sshd
        cannot start."""
        try:
            node = inst.node
            if not node.wait_ready(timeout=None):
                if not (inst.dead or node.killed or self._closing.is_set()):
                    self._fail_instance(inst, "RuntimeError: %s"
                                        % (node.failed or "sshd did not start"))
                return
            delay = float(self.boot_delay or 0)
            if delay > 0 and self._closing.wait(delay):
                return
            with self._lock:
                if inst.state == "pending" and not inst.dead:
                    inst.state = "running"
        except Exception as e:     # noqa: BLE001 - any failure: the launch failed
            if not (inst.dead or self._closing.is_set()):
                self._fail_instance(inst, "%s: %s" % (type(e).__name__, e))

    # ---- the API ----

    def _error_xml(self, code, message):
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>%s%s</Error>'
                '</Errors>%s</Response>' % (_el("Code", code), _el("Message", message),
                                            _el("RequestID", str(uuid.uuid4()))))

    def _ok_xml(self, action, inner):
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="%s">%s%s</%sResponse>'
                % (action, XMLNS, _el("requestId", str(uuid.uuid4())), inner, action))

    def _api(self, method, path, query, headers, body):
        """(HTTP status, XML) of one API request."""
        params = {}
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
            params[k] = v
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if body and ctype == "application/x-www-form-urlencoded":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = body.decode("latin-1")
            for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True):
                params[k] = v
        action = params.get("Action", "")
        latency = float(self.latency or 0)
        if latency > 0:
            self._closing.wait(latency)
        slow = 0.0
        try:
            if self._closing.is_set():
                raise EC2Error("InternalError", "the fake EC2 server is shutting down")
            hv = {}
            for name in set(k.lower() for k in headers.keys()):
                hv[name] = headers.get_all(name) or []
            try:
                sigv4.verify(method, path, query, hv, body, {self.access_key: self.secret_key},
                             self.region, "ec2", session_token=self.session_token)
            except sigv4.AuthError as e:
                raise EC2Error(e.code, e.message, e.status)
            with self._lock:
                self.calls.append((action, dict(params)))
                if self.api_down:
                    raise EC2Error("Unavailable", "The server is overloaded or the service "
                                   "is unavailable (the fake's api_down switch)", 503)
                if self.slow_next > 0:
                    self.slow_next -= 1
                    slow = float(self.slow_seconds)
                if self.throttle_next > 0:
                    self.throttle_next -= 1
                    raise EC2Error("RequestLimitExceeded", "Request limit exceeded.")
                if self.server_error_next > 0:
                    self.server_error_next -= 1
                    raise EC2Error("InternalError", "An internal error has occurred")
                if action in (self.deny_actions or ()):
                    raise EC2Error("UnauthorizedOperation",
                                   "You are not authorized to perform this operation. "
                                   "(%s denied by the fake's deny_actions)" % action)
            if not action:
                raise EC2Error("MissingAction", "The request must contain the parameter Action")
            handler = getattr(self, "_do_" + action, None)
            if handler is None or not action.isalnum():
                raise EC2Error("InvalidAction",
                               "The action %s is not valid for this web service." % action)
            _required(params, "Version")
            if params.get("DryRun", "").lower() == "true":
                raise EC2Error("DryRunOperation",
                               "Request would have succeeded, but DryRun flag is set.")
            status, xml = 200, self._ok_xml(action, handler(params))
        except EC2Error as e:
            with self._lock:
                self.errors.append((action, e.code))
            status, xml = e.status, self._error_xml(e.code, e.message)
        except Exception as e:     # noqa: BLE001 - a bug in the fake: say so
            import traceback
            traceback.print_exc()
            with self._lock:
                self.errors.append((action, "InternalError"))
            status, xml = 500, self._error_xml("InternalError", "fake EC2 bug: %r" % e)
        if slow > 0:
            self._closing.wait(slow)
        return status, xml

    # -- instances --

    def _instance_xml(self, inst, launch=False):
        running = inst.state == "running"
        x = [_el("instanceId", inst.id), _el("imageId", inst.image_id),
             "<instanceState>%s%s</instanceState>" % (_el("code", STATE_CODES[inst.state]),
                                                      _el("name", inst.state)),
             _el("privateDnsName", "ip-%s.ec2.internal" % inst.address.replace(".", "-")
                 if running else None),
             _el("dnsName", None), _el("reason", None)]
        if inst.key_name:
            x.append(_el("keyName", inst.key_name))
        x += [_el("amiLaunchIndex", inst.launch_index), "<productCodes/>",
              _el("instanceType", inst.type), _el("launchTime", inst.launch_time),
              "<placement>%s<groupName/>%s</placement>" % (_el("availabilityZone", inst.az),
                                                           _el("tenancy", "default")),
              "<monitoring>%s</monitoring>" % _el("state", "disabled")]
        if running:
            x += [_el("privateIpAddress", inst.address), _el("ipAddress", inst.address)]
        groups = []
        for gid in inst.group_ids:
            g = self._groups.get(gid)
            groups.append(_el("groupId", gid) + _el("groupName", g["name"] if g else None))
        x.append(_set("groupSet", groups))
        if inst.state_reason:
            x.append("<stateReason>%s%s</stateReason>" % (_el("code", inst.state_reason[0]),
                                                          _el("message", inst.state_reason[1])))
        x += [_el("architecture", "x86_64"), _el("rootDeviceType", "ebs"),
              _el("rootDeviceName", "/dev/sda1"), "<blockDeviceMapping/>"]
        if inst.market == "spot":
            x += [_el("instanceLifecycle", "spot"),
                  _el("spotInstanceRequestId", inst.spot_request_id)]
        x += [_el("virtualizationType", "hvm"), _el("clientToken", inst.client_token),
              _set("tagSet", [_el("key", k) + _el("value", v) for k, v in inst.tags.items()]),
              _el("hypervisor", "xen"), _el("ebsOptimized", False)]
        return "".join(x)

    def _do_RunInstances(self, p):
        image_id = _required(p, "ImageId")
        if not image_id.startswith("ami-"):
            raise EC2Error("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")"
                           % image_id)
        itype = p.get("InstanceType") or "m1.small"
        min_count = _int(p, "MinCount", None, 1, 1000)
        max_count = _int(p, "MaxCount", None, 1, 1000)
        if min_count is None:
            _required(p, "MinCount")
        if max_count is None:
            _required(p, "MaxCount")
        if min_count > max_count:
            raise EC2Error("InvalidParameterValue",
                           "MinCount (%d) must not exceed MaxCount (%d)" % (min_count, max_count))
        user_data = ""
        if p.get("UserData"):
            raw = p["UserData"].replace("\n", "").replace("\r", "")
            try:
                data = base64.b64decode(raw, validate=True)
            except ValueError:
                raise EC2Error("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
            if len(data) > USER_DATA_LIMIT:
                raise EC2Error("InvalidParameterValue",
                               "User data is limited to %d bytes" % USER_DATA_LIMIT)
            user_data = data.decode("utf-8", "replace")
        market = "on-demand"
        max_price = None
        mtype = p.get("InstanceMarketOptions.MarketType")
        if mtype:
            if mtype != "spot":
                raise EC2Error("InvalidParameterValue",
                               "Invalid value '%s' for InstanceMarketOptions.MarketType" % mtype)
            market = "spot"
            mp = p.get("InstanceMarketOptions.SpotOptions.MaxPrice")
            if mp:
                try:
                    max_price = float(mp)
                except ValueError:
                    raise EC2Error("InvalidParameterValue", "Invalid value '%s' for MaxPrice" % mp)
            sit = p.get("InstanceMarketOptions.SpotOptions.SpotInstanceType", "one-time")
            if sit not in ("one-time", "persistent"):
                raise EC2Error("InvalidParameterValue",
                               "Invalid value '%s' for SpotInstanceType" % sit)
        shutdown = p.get("InstanceInitiatedShutdownBehavior") or "stop"
        if shutdown not in ("stop", "terminate"):
            raise EC2Error("InvalidParameterValue",
                           "Invalid value '%s' for InstanceInitiatedShutdownBehavior" % shutdown)
        tags = {}
        for spec in _structs(p, "TagSpecification"):
            rtype = spec.get("ResourceType")
            if not rtype:
                raise EC2Error("MissingParameter",
                               "The request must contain the parameter TagSpecification.N."
                               "ResourceType")
            for t in _structs(spec, "Tag"):
                if "Key" not in t or t["Key"] == "":
                    raise EC2Error("InvalidParameterValue", "Tag key must not be empty")
                if rtype == "instance":
                    tags[t["Key"]] = t.get("Value", "")
        block_devices = _structs(p, "BlockDeviceMapping")
        token = p.get("ClientToken") or ""
        az = p.get("Placement.AvailabilityZone") or (self.region + "a")
        if not az.startswith(self.region):
            raise EC2Error("InvalidParameterValue",
                           "Invalid availability zone: [%s]" % az)
        fingerprint = sorted(p.items())

        with self._lock:
            if token and token in self._tokens:
                res = self._reservations[self._tokens[token]]
                if res["fingerprint"] != fingerprint:
                    raise EC2Error("IdempotentParameterMismatch",
                                   "Client token '%s' was used before with other parameters"
                                   % token)
                return self._reservation_xml(res)
            key_material = None
            key_name = p.get("KeyName") or None
            if key_name is not None:
                kp = self._key_pairs.get(key_name)
                if kp is None:
                    raise EC2Error("InvalidKeyPair.NotFound",
                                   "The key pair '%s' does not exist" % key_name)
                key_material = kp["material"]
            group_ids = []
            for gid in _numbered(p, "SecurityGroupId"):
                if gid not in self._groups:
                    raise EC2Error("InvalidGroup.NotFound",
                                   "The security group '%s' does not exist" % gid)
                group_ids.append(gid)
            for name in _numbered(p, "SecurityGroup"):
                g = [g for g in self._groups.values() if g["name"] == name]
                if not g:
                    raise EC2Error("InvalidGroup.NotFound",
                                   "The security group '%s' does not exist in default VPC '%s'"
                                   % (name, DEFAULT_VPC))
                group_ids.append(g[0]["id"])
            if market == "spot":
                price = self.spot_prices.get(itype)
                if max_price is not None and price is not None and max_price < price:
                    raise EC2Error("SpotMaxPriceTooLow",
                                   "Your Spot request price of %s is lower than the minimum "
                                   "required Spot request fulfillment price of %.4f."
                                   % (p["InstanceMarketOptions.SpotOptions.MaxPrice"], price))
                if self.spot_capacity_error:
                    raise EC2Error("InsufficientInstanceCapacity",
                                   "There is no Spot capacity available that matches your "
                                   "request.")
            if itype in (self.capacity_error_types or ()):
                raise EC2Error("InsufficientInstanceCapacity",
                               "We currently do not have sufficient %s capacity in the "
                               "Availability Zone you requested (%s). Our system will be working "
                               "on provisioning additional capacity." % (itype, az))
            res = {"id": "r-" + _hex17(), "instances": [], "token": token,
                   "fingerprint": fingerprint}
            launch_time = _iso(time.time())
            host_key, host_key_note = self._host_key_of(user_data)
            keys = [key_material] if key_material else []
            new = []
            for idx in range(max_count):
                iid = "i-" + _hex17()
                try:
                    # claims the next free 127.0.B.H:22; its sshd starts in a thread
                    node = self._host.boot(authorized_keys=keys, host_key_private=host_key,
                                           name=iid)
                except RuntimeError:
                    break
                inst = _Instance(
                    id=iid, reservation_id=res["id"], image_id=image_id, type=itype,
                    key_name=key_name, key_material=key_material, group_ids=list(group_ids),
                    user_data=user_data, client_token=token, tags=dict(tags), market=market,
                    max_price=max_price, shutdown_behavior=shutdown, block_devices=block_devices,
                    az=az, launch_time=launch_time, launch_index=idx, address=node.address,
                    dir=node.dir, spot_request_id=("sir-" + _hex17()[:8])
                    if market == "spot" else None)
                inst.node = node
                inst.host_key_note = host_key_note
                new.append(inst)
            if len(new) < min_count:
                self._host.kill_nodes([i.node for i in new])
                raise EC2Error("InsufficientInstanceCapacity",
                               "fake EC2: no free loopback address for an instance "
                               "(127.0.1.1-127.0.%d.254 port 22 are all claimed or in use; "
                               "got %d of MinCount %d)" % (ADDRESS_BLOCKS[-1], len(new),
                                                           min_count))
            for inst in new:
                self._instances[inst.id] = inst
                res["instances"].append(inst.id)
            self._reservations[res["id"]] = res
            if token:
                self._tokens[token] = res["id"]
            xml = self._reservation_xml(res)
        for inst in new:
            inst.thread = threading.Thread(target=self._watch, args=(inst,),
                                           name="fake-ec2-boot-%s" % inst.id, daemon=True)
            inst.thread.start()
        return xml

    def _reservation_xml(self, res):
        items = []
        for iid in res["instances"]:
            inst = self._instances[iid]
            self._refresh(inst)
            items.append(self._instance_xml(inst, launch=True))
        return (_el("reservationId", res["id"]) + _el("ownerId", OWNER_ID) + "<groupSet/>"
                + _set("instancesSet", items))

    _INSTANCE_FILTERS = ("instance-state-name", "instance-id", "tag-key", "instance-type",
                         "key-name", "image-id", "instance-lifecycle", "reservation-id",
                         "availability-zone", "client-token", "instance.group-id",
                         "private-ip-address", "ip-address")

    def _filter_instance(self, inst, name, values):
        if name.startswith("tag:"):
            key = name[4:]
            return key in inst.tags and _match(values, inst.tags[key])
        if name == "tag-key":
            return any(_match(values, k) for k in inst.tags)
        running = inst.state == "running"
        field = {
            "instance-state-name": inst.state,
            "instance-id": inst.id,
            "instance-type": inst.type,
            "key-name": inst.key_name,
            "image-id": inst.image_id,
            "instance-lifecycle": "spot" if inst.market == "spot" else None,
            "reservation-id": inst.reservation_id,
            "availability-zone": inst.az,
            "client-token": inst.client_token,
            "private-ip-address": inst.address if running else None,
            "ip-address": inst.address if running else None,
        }
        if name == "instance.group-id":
            return any(_match(values, g) for g in inst.group_ids)
        if name == "instance-state-code":
            return _match(values, STATE_CODES[inst.state])
        return _match(values, field.get(name))

    def _do_DescribeInstances(self, p):
        ids = _numbered(p, "InstanceId")
        if ids and p.get("MaxResults"):
            raise EC2Error("InvalidParameterCombination",
                           "The parameter instancesSet cannot be used with the parameter "
                           "maxResults")
        filters = _filters(p)
        for name, values in filters:
            if not (name.startswith("tag:") or name in self._INSTANCE_FILTERS
                    or name == "instance-state-code"):
                raise EC2Error("InvalidParameterValue", "The filter '%s' is invalid" % name)
        with self._lock:
            now = time.monotonic()
            for inst in self._instances.values():
                self._refresh(inst, now)
            if ids:
                for i in ids:
                    if not i.startswith("i-"):
                        raise EC2Error("InvalidInstanceID.Malformed",
                                       "Invalid id: \"%s\" (expecting \"i-...\")" % i)
                missing = [i for i in ids if i not in self._instances]
                if missing:
                    raise EC2Error("InvalidInstanceID.NotFound",
                                   "The instance ID%s '%s' do%s not exist"
                                   % ("s" if len(missing) > 1 else "", ", ".join(missing),
                                      "" if len(missing) > 1 else "es"))
                chosen = [self._instances[i] for i in dict.fromkeys(ids)]
            else:
                chosen = list(self._instances.values())
            chosen = [i for i in chosen
                      if all(self._filter_instance(i, n, v) for n, v in filters)]
            page, nxt = _page(chosen, p, None, 5, 1000)
            resv = []
            for inst in page:
                if resv and resv[-1][0] == inst.reservation_id:
                    resv[-1][1].append(inst)
                else:
                    resv.append((inst.reservation_id, [inst]))
            items = [_el("reservationId", rid) + _el("ownerId", OWNER_ID) + "<groupSet/>"
                     + _set("instancesSet", [self._instance_xml(i) for i in insts])
                     for rid, insts in resv]
        return _set("reservationSet", items) + (_el("nextToken", nxt) if nxt else "")

    def _do_TerminateInstances(self, p):
        ids = _numbered(p, "InstanceId")
        if not ids:
            _required(p, "InstanceId.1")
        with self._lock:
            missing = [i for i in ids if i not in self._instances]
            if missing:
                raise EC2Error("InvalidInstanceID.NotFound",
                               "The instance ID%s '%s' do%s not exist"
                               % ("s" if len(missing) > 1 else "", ", ".join(missing),
                                  "" if len(missing) > 1 else "es"))
            changes = []
            for iid in dict.fromkeys(ids):
                inst = self._instances[iid]
                prev, cur = self._begin_termination(
                    inst, "Client.UserInitiatedShutdown",
                    "Client.UserInitiatedShutdown: User initiated shutdown")
                changes.append((inst, prev, cur))
        # one sweep for all of them
        self._kill_instances([inst for inst, prev, cur in changes
                              if prev not in ("shutting-down", "terminated")])
        items = []
        for inst, prev, cur in changes:
            items.append(_el("instanceId", inst.id)
                         + "<currentState>%s%s</currentState>" % (_el("code", STATE_CODES[cur]),
                                                                  _el("name", cur))
                         + "<previousState>%s%s</previousState>"
                         % (_el("code", STATE_CODES[prev]), _el("name", prev)))
        return _set("instancesSet", items)

    # -- key pairs --

    def _do_ImportKeyPair(self, p):
        name = _required(p, "KeyName")
        material = _required(p, "PublicKeyMaterial")
        try:
            line = base64.b64decode(material.replace("\n", "").replace("\r", ""),
                                    validate=True).decode("utf-8")
            kind, blob, _ = parse_public_key(line)
        except (ValueError, UnicodeDecodeError):
            raise EC2Error("InvalidKey.Format",
                           "Key is not in valid OpenSSH public key format (PublicKeyMaterial "
                           "must be the base64 of an OpenSSH public key line)")
        if kind == "ssh-ed25519":
            fp = base64.b64encode(hashlib.sha256(blob).digest()).decode()
        else:
            fp = ":".join("%02x" % b for b in hashlib.md5(blob).digest())
        with self._lock:
            if name in self._key_pairs:
                raise EC2Error("InvalidKeyPair.Duplicate", "The keypair '%s' already exists."
                               % name)
            kp = {"name": name, "id": "key-" + _hex17(), "fingerprint": fp,
                  "material": line.strip(), "type": "ed25519" if kind == "ssh-ed25519" else "rsa"}
            self._key_pairs[name] = kp
        return _el("keyName", name) + _el("keyFingerprint", fp) + _el("keyPairId", kp["id"])

    def _do_DeleteKeyPair(self, p):
        name = p.get("KeyName")
        kid = p.get("KeyPairId")
        if not name and not kid:
            raise EC2Error("MissingParameter",
                           "The request must contain the parameter KeyName or KeyPairId")
        with self._lock:
            for k, kp in list(self._key_pairs.items()):
                if (name and k == name) or (kid and kp["id"] == kid):
                    del self._key_pairs[k]
        return _el("return", True)

    def _do_DescribeKeyPairs(self, p):
        names = _numbered(p, "KeyName")
        kids = _numbered(p, "KeyPairId")
        filters = _filters(p)
        with self._lock:
            kps = list(self._key_pairs.values())
            for n in names:
                if n not in self._key_pairs:
                    raise EC2Error("InvalidKeyPair.NotFound",
                                   "The key pair '%s' does not exist" % n)
            for k in kids:
                if not any(kp["id"] == k for kp in kps):
                    raise EC2Error("InvalidKeyPair.NotFound",
                                   "The key pair '%s' does not exist" % k)
        if names:
            kps = [kp for kp in kps if kp["name"] in names]
        if kids:
            kps = [kp for kp in kps if kp["id"] in kids]
        for fname, values in filters:
            field = {"key-name": "name", "key-pair-id": "id", "fingerprint": "fingerprint"}.get(fname)
            if field is None:
                raise EC2Error("InvalidParameterValue", "The filter '%s' is invalid" % fname)
            kps = [kp for kp in kps if _match(values, kp[field])]
        return _set("keySet", [_el("keyPairId", kp["id"]) + _el("keyName", kp["name"])
                               + _el("keyFingerprint", kp["fingerprint"])
                               + _el("keyType", kp["type"]) for kp in kps])

    # -- security groups --

    def _group(self, p):
        gid = p.get("GroupId")
        name = p.get("GroupName")
        if gid:
            g = self._groups.get(gid)
            if g is None:
                raise EC2Error("InvalidGroup.NotFound",
                               "The security group '%s' does not exist" % gid)
            return g
        if name:
            for g in self._groups.values():
                if g["name"] == name:
                    return g
            raise EC2Error("InvalidGroup.NotFound",
                           "The security group '%s' does not exist in default VPC '%s'"
                           % (name, DEFAULT_VPC))
        raise EC2Error("MissingParameter",
                       "The request must contain the parameter GroupId or GroupName")

    def _do_CreateSecurityGroup(self, p):
        name = _required(p, "GroupName")
        desc = _required(p, "GroupDescription")
        vpc = p.get("VpcId") or DEFAULT_VPC
        if name.startswith("sg-"):
            raise EC2Error("InvalidParameterValue", "Group names may not be in the format sg-*")
        with self._lock:
            for g in self._groups.values():
                if g["name"] == name and g["vpc_id"] == vpc:
                    raise EC2Error("InvalidGroup.Duplicate",
                                   "The security group '%s' already exists for VPC '%s'"
                                   % (name, vpc))
            gid = "sg-" + _hex17()
            self._groups[gid] = {"id": gid, "name": name, "description": desc, "vpc_id": vpc,
                                 "ingress": []}
        return _el("return", True) + _el("groupId", gid)

    def _do_AuthorizeSecurityGroupIngress(self, p):
        rules = []
        for perm in _structs(p, "IpPermissions"):
            proto = perm.get("IpProtocol")
            if not proto:
                raise EC2Error("MissingParameter", "The request must contain the parameter "
                               "IpPermissions.N.IpProtocol")
            proto = {"6": "tcp", "17": "udp", "1": "icmp"}.get(proto, proto).lower()
            if proto not in ("tcp", "udp", "icmp", "-1"):
                raise EC2Error("InvalidParameterValue", "Invalid value '%s' for IP protocol. "
                               "Unknown protocol." % proto)
            if proto == "-1":
                lo, hi = None, None
            else:
                lo = _int(perm, "FromPort", None, -1, 65535)
                hi = _int(perm, "ToPort", None, -1, 65535)
                if lo is None or hi is None:
                    raise EC2Error("InvalidParameterValue",
                                   "Invalid value for portRange. Must specify both from and to "
                                   "ports with TCP/UDP.")
                if proto != "icmp" and lo > hi:
                    raise EC2Error("InvalidParameterValue",
                                   "Invalid value for portRange: from port %d > to port %d"
                                   % (lo, hi))
            cidrs = [r.get("CidrIp") for r in _structs(perm, "IpRanges")]
            if not cidrs:
                raise EC2Error("MissingParameter", "The request must contain the parameter "
                               "IpPermissions.N.IpRanges.M.CidrIp (the fake supports only "
                               "CIDR sources)")
            for c in cidrs:
                try:
                    ipaddress.ip_network(c or "", strict=False)
                    if "/" not in (c or ""):
                        raise ValueError
                except ValueError:
                    raise EC2Error("InvalidParameterValue",
                                   "CIDR block %s is malformed" % c)
                rules.append((proto, lo, hi, c))
        if not rules:
            raise EC2Error("MissingParameter",
                           "The request must contain the parameter IpPermissions")
        with self._lock:
            g = self._group(p)
            seen = set(g["ingress"])
            for r in rules:
                if r in seen:
                    raise EC2Error("InvalidPermission.Duplicate",
                                   "the specified rule \"peer: %s, %s, from port: %s, to port: "
                                   "%s, ALLOW\" already exists" % (r[3], r[0].upper(), r[1], r[2]))
                seen.add(r)
            g["ingress"].extend(rules)
        return _el("return", True)

    def _do_DeleteSecurityGroup(self, p):
        with self._lock:
            g = self._group(p)
            for inst in self._instances.values():
                self._refresh(inst)
                if inst.state != "terminated" and g["id"] in inst.group_ids:
                    raise EC2Error("DependencyViolation",
                                   "resource %s has a dependent object (instance %s is %s)"
                                   % (g["id"], inst.id, inst.state))
            del self._groups[g["id"]]
        return _el("return", True) + _el("groupId", g["id"])

    def _do_DescribeSecurityGroups(self, p):
        ids = _numbered(p, "GroupId")
        names = _numbered(p, "GroupName")
        filters = _filters(p)
        with self._lock:
            groups = list(self._groups.values())
            for i in ids:
                if i not in self._groups:
                    raise EC2Error("InvalidGroup.NotFound",
                                   "The security group '%s' does not exist" % i)
            for n in names:
                if not any(g["name"] == n for g in groups):
                    raise EC2Error("InvalidGroup.NotFound",
                                   "The security group '%s' does not exist in default VPC '%s'"
                                   % (n, DEFAULT_VPC))
            if ids:
                groups = [g for g in groups if g["id"] in ids]
            if names:
                groups = [g for g in groups if g["name"] in names]
            for fname, values in filters:
                field = {"group-name": "name", "group-id": "id", "vpc-id": "vpc_id",
                         "description": "description"}.get(fname)
                if field is None:
                    raise EC2Error("InvalidParameterValue", "The filter '%s' is invalid" % fname)
                groups = [g for g in groups if _match(values, g[field])]
            items = []
            for g in groups:
                perms = []
                for proto, lo, hi, cidr in g["ingress"]:
                    perms.append(_el("ipProtocol", proto)
                                 + (_el("fromPort", lo) + _el("toPort", hi) if lo is not None
                                    else "")
                                 + "<groups/>" + _set("ipRanges", [_el("cidrIp", cidr)])
                                 + "<ipv6Ranges/><prefixListIds/>")
                egress = (_el("ipProtocol", "-1") + "<groups/>"
                          + _set("ipRanges", [_el("cidrIp", "0.0.0.0/0")])
                          + "<ipv6Ranges/><prefixListIds/>")
                items.append(_el("ownerId", OWNER_ID) + _el("groupId", g["id"])
                             + _el("groupName", g["name"])
                             + _el("groupDescription", g["description"])
                             + _el("vpcId", g["vpc_id"]) + _set("ipPermissions", perms)
                             + _set("ipPermissionsEgress", [egress]))
        return _set("securityGroupInfo", items)

    # -- images, prices --

    @staticmethod
    def _default_images():
        def img(name, created, owner_alias="amazon", desc=None):
            return {"imageId": "ami-" + _hex17(), "name": name, "creationDate": created,
                    "state": "available", "ownerId": AMAZON_OWNER_ID,
                    "ownerAlias": owner_alias, "architecture": "x86_64",
                    "description": desc or name}
        return [
            img(DLAMI_NAME + " 20240116", "2024-01-16T19:23:41.000Z"),
            img(DLAMI_NAME + " 20250105", "2025-01-05T08:12:09.000Z"),
            img(DLAMI_NAME + " 20240730", "2024-07-30T11:47:52.000Z"),
            img("ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250101",
                "2025-01-01T06:02:33.000Z"),
        ]

    def _do_DescribeImages(self, p):
        owners = _numbered(p, "Owner")
        ids = _numbered(p, "ImageId")
        filters = _filters(p)
        images = list(self.images)
        if ids:
            known = {im["imageId"] for im in images}
            for i in ids:
                if i not in known:
                    raise EC2Error("InvalidAMIID.NotFound",
                                   "The image id '[%s]' does not exist" % i)
            images = [im for im in images if im["imageId"] in ids]
        if owners:
            images = [im for im in images
                      if im["ownerId"] in owners or im.get("ownerAlias") in owners]
        for fname, values in filters:
            field = {"name": "name", "state": "state", "image-id": "imageId",
                     "owner-alias": "ownerAlias", "owner-id": "ownerId",
                     "architecture": "architecture", "description": "description"}.get(fname)
            if field is None:
                raise EC2Error("InvalidParameterValue", "The filter '%s' is invalid" % fname)
            images = [im for im in images if _match(values, im.get(field))]
        items = []
        for im in images:
            items.append(_el("imageId", im["imageId"])
                         + _el("imageLocation", "amazon/" + im["name"])
                         + _el("imageState", im["state"]) + _el("imageOwnerId", im["ownerId"])
                         + _el("creationDate", im["creationDate"]) + _el("isPublic", True)
                         + _el("architecture", im["architecture"])
                         + _el("imageType", "machine") + _el("platformDetails", "Linux/UNIX")
                         + _el("imageOwnerAlias", im.get("ownerAlias"))
                         + _el("name", im["name"]) + _el("description", im["description"])
                         + _el("rootDeviceType", "ebs") + _el("rootDeviceName", "/dev/sda1")
                         + "<blockDeviceMapping/>" + _el("virtualizationType", "hvm")
                         + _el("hypervisor", "xen") + _el("enaSupport", True))
        return _set("imagesSet", items)

    def _do_DescribeSpotPriceHistory(self, p):
        types = _numbered(p, "InstanceType")
        products = _numbered(p, "ProductDescription")
        zone = p.get("AvailabilityZone")
        filters = _filters(p)
        for t in ("StartTime", "EndTime"):
            if p.get(t):
                try:
                    datetime.datetime.strptime(p[t][:19], "%Y-%m-%dT%H:%M:%S")
                except ValueError:
                    raise EC2Error("InvalidParameterValue", "Invalid value '%s' for %s"
                                   % (p[t], t))
        prices = dict(self.spot_prices)
        rows = []
        stamp = _iso(time.time() - 300)
        for t in (types or list(prices)):
            if t not in prices:
                continue
            for suffix, factor in (("a", 1.0), ("b", ZONE_B_FACTOR)):
                rows.append({"instance-type": t, "product-description": "Linux/UNIX",
                             "spot-price": "%.6f" % (float(prices[t]) * factor),
                             "timestamp": stamp, "availability-zone": self.region + suffix})
        if products:
            ok = {"Linux/UNIX", "Linux/UNIX (Amazon VPC)"}
            rows = rows if any(x in ok for x in products) else []
        if zone:
            rows = [r for r in rows if r["availability-zone"] == zone]
        for fname, values in filters:
            if fname not in ("instance-type", "product-description", "availability-zone",
                             "spot-price", "timestamp"):
                raise EC2Error("InvalidParameterValue", "The filter '%s' is invalid" % fname)
            if fname == "product-description":
                rows = rows if any(_match(values, d) for d in
                                   ("Linux/UNIX", "Linux/UNIX (Amazon VPC)")) else []
            else:
                rows = [r for r in rows if _match(values, r[fname])]
        page, nxt = _page(rows, p, None, 1, 1000)
        items = [_el("instanceType", r["instance-type"])
                 + _el("productDescription", r["product-description"])
                 + _el("spotPrice", r["spot-price"]) + _el("timestamp", r["timestamp"])
                 + _el("availabilityZone", r["availability-zone"]) for r in page]
        return _set("spotPriceHistorySet", items) + (_el("nextToken", nxt) if nxt else "")


# ---- command line ------------------------------------------------------------------

def _selftest(suite):
    if not os.path.isdir(suite):
        print("fake_ec2 selftest: the SigV4 test suite %s is missing; nothing checked" % suite)
        return 0
    passed, total, failures = sigv4.run_suite(suite)
    for name, problems in failures:
        print("FAIL %s:\n  %s" % (name, "\n  ".join(problems)))
    print("fake_ec2 selftest: SigV4 test suite: %d of %d cases" % (passed, total))
    return 0 if passed == total else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake AWS EC2 Query API with sshd instances")
    ap.add_argument("--workdir")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--access-key", default="AKIDSKYFSTEST")
    ap.add_argument("--secret-key", default="skyfs/test/secret")
    ap.add_argument("--session-token", default=None)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--user", default="skytest")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--url-file")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--suite", default=SUITE_DIR)
    a = ap.parse_args(argv)
    if a.selftest:
        return _selftest(a.suite)
    if not a.workdir:
        ap.error("--workdir is required")

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with FakeEC2(a.workdir, access_key=a.access_key, secret_key=a.secret_key, region=a.region,
                 user=a.user, session_token=a.session_token, port=a.port,
                 verbose=a.verbose) as ec2:
        ec2.latency = a.latency_ms / 1000.0
        if a.url_file:
            tmp = a.url_file + ".tmp.%d" % os.getpid()
            with open(tmp, "w") as f:
                f.write(ec2.url + "\n")
            os.replace(tmp, a.url_file)
        print("fake_ec2: serving %s (region %s, access key %s); checkip %s"
              % (ec2.url, a.region, a.access_key, ec2.checkip_url), flush=True)
        while not stop.wait(0.5):
            pass
        print("fake_ec2: stopping (%d instances launched)" % len(ec2.instances()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
