#!/usr/bin/env python3
"""A fake RunPod GraphQL API whose pods are real sshd processes (standard
library only). See README.md next to this file.

    from fake_runpod import FakeRunPod
    with FakeRunPod(workdir, api_key="rp-test-key") as rp:   # 127.0.0.1:<free port>
        rp.url                       # "http://127.0.0.1:PORT/graphql"
        rp.gpu_types                 # editable list of GPU type dicts (prices per GPU-hour)
        rp.supply_constraint_types = {"NVIDIA GeForce RTX 4090/community"}
        rp.pods(), rp.live_pods(), rp.calls, rp.errors

Every pod boots a real sshd on its own loopback address (tests/fakes/
fakenodes.py) for the login user `skytest`, with env PUBLIC_KEY as its only
authorized key and, when dockerArgs installs it, env SKYFS_HOST_KEY (base64
of an OpenSSH private key) as its host key.

Command line:
    fake_runpod.py --workdir DIR [--api-key K] [--latency-ms MS] [--port P]
                   [--url-file F] [--verbose]
        serves until SIGTERM / SIGINT; writes the URL to F once listening.
"""

import argparse
import base64
import binascii
import http.server
import json
import os
import re
import secrets
import shlex
import signal
import string
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import fakehttp  # noqa: E402
from fakenodes import NodeHost   # noqa: E402

MAX_BODY = 1 << 20
CAPACITY_MESSAGE = ("There are no longer any instances available with the requested "
                    "specifications. Please refresh and try again.")

# prices per GPU-hour; None: not offered (no spot price: no spot market)
DEFAULT_GPU_TYPES = [
    {"id": "NVIDIA GeForce RTX 4090", "displayName": "RTX 4090", "manufacturer": "Nvidia",
     "memoryInGb": 24, "secureCloud": True, "communityCloud": True, "maxGpuCount": 8,
     "securePrice": 0.69, "communityPrice": 0.34, "secureSpotPrice": 0.35,
     "communitySpotPrice": 0.2},
    {"id": "NVIDIA RTX A4000", "displayName": "RTX A4000", "manufacturer": "Nvidia",
     "memoryInGb": 16, "secureCloud": True, "communityCloud": True, "maxGpuCount": 8,
     "securePrice": 0.32, "communityPrice": 0.17, "secureSpotPrice": 0.16,
     "communitySpotPrice": 0.1},
    {"id": "NVIDIA A100 80GB PCIe", "displayName": "A100 PCIe", "manufacturer": "Nvidia",
     "memoryInGb": 80, "secureCloud": True, "communityCloud": True, "maxGpuCount": 8,
     "securePrice": 1.64, "communityPrice": 1.19, "secureSpotPrice": 0.82,
     "communitySpotPrice": 0.6},
    {"id": "NVIDIA H100 80GB HBM3", "displayName": "H100 SXM", "manufacturer": "Nvidia",
     "memoryInGb": 80, "secureCloud": True, "communityCloud": False, "maxGpuCount": 8,
     "securePrice": 2.69, "communityPrice": None, "secureSpotPrice": None,
     "communitySpotPrice": None},
]

# ---- the schema subset -----------------------------------------------------------------
# object type -> field -> (object type or None for a scalar, is a list)
TYPES = {
    "Query": {"gpuTypes": ("GpuType", True), "myself": ("User", False), "pod": ("Pod", False)},
    "Mutation": {"podFindAndDeployOnDemand": ("Pod", False),
                 "podRentInterruptable": ("Pod", False), "podTerminate": (None, False)},
    "GpuType": dict.fromkeys(["id", "displayName", "manufacturer", "memoryInGb", "secureCloud",
                              "communityCloud", "maxGpuCount", "securePrice", "communityPrice",
                              "secureSpotPrice", "communitySpotPrice"], (None, False)),
    "User": {"id": (None, False), "pods": ("Pod", True)},
    "Pod": dict(dict.fromkeys(["id", "name", "desiredStatus", "imageName", "machineId",
                               "costPerHr", "gpuCount", "podType", "dockerArgs"],
                              (None, False)),
                runtime=("PodRuntime", False), machine=("PodMachine", False)),
    "PodRuntime": {"uptimeInSeconds": (None, False), "ports": ("PodRuntimePorts", True)},
    "PodRuntimePorts": dict.fromkeys(["ip", "isIpPublic", "privatePort", "publicPort", "type"],
                                     (None, False)),
    "PodMachine": {"podHostId": (None, False), "gpuDisplayName": (None, False)},
}
_DEPLOY_FIELDS = {"cloudType", "gpuTypeId", "gpuCount", "name", "imageName",
                  "containerDiskInGb", "volumeInGb", "volumeMountPath", "minVcpuCount",
                  "minMemoryInGb", "ports", "env", "startSsh", "supportPublicIp", "dockerArgs",
                  "dataCenterId", "networkVolumeId", "templateId", "startJupyter"}
# input type -> its fields
INPUTS = {
    "GpuTypeFilter": {"id"},
    "PodFilter": {"podId"},
    "PodTerminateInput": {"podId"},
    "PodFindAndDeployOnDemandInput": _DEPLOY_FIELDS,
    "PodRentInterruptableInput": _DEPLOY_FIELDS | {"bidPerGpu"},
}
# root field -> (input type, input required)
ROOT_INPUT = {"gpuTypes": ("GpuTypeFilter", False), "myself": (None, False),
              "pod": ("PodFilter", True), "podTerminate": ("PodTerminateInput", True),
              "podFindAndDeployOnDemand": ("PodFindAndDeployOnDemandInput", True),
              "podRentInterruptable": ("PodRentInterruptableInput", True)}


class GraphQLError(Exception):
    """An error answer: HTTP status, extensions.code, message."""

    def __init__(self, message, code, status=200):
        Exception.__init__(self, message)
        self.message = message
        self.code = code
        self.status = status


def _invalid(message):
    return GraphQLError(message, "GRAPHQL_VALIDATION_FAILED", 400)


# ---- a small GraphQL reader --------------------------------------------------------------

_TOKEN = re.compile(r'\s+|,|#[^\n]*|(\.\.\.|[{}()\[\]:!$=@])|("(?:[^"\\]|\\.)*")'
                    r'|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([_A-Za-z][_0-9A-Za-z]*)')


def _tokens(text):
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise GraphQLError("Syntax Error: Unexpected character %r." % text[pos],
                               "GRAPHQL_PARSE_FAILED", 400)
        pos = m.end()
        punct, s, num, name = m.groups()
        if punct:
            out.append(("p", punct))
        elif s:
            out.append(("v", json.loads(s)))
        elif num:
            out.append(("v", float(num) if any(c in num for c in ".eE") else int(num)))
        elif name:
            out.append(("n", name))
    return out


class _Reader:
    """Operation := [query|mutation [Name] [(VarDefs)]] SelectionSet; fields
    with arguments (literals or $variables) and selection sets. No fragments,
    directives or aliases."""

    def __init__(self, text):
        self.t = _tokens(text)
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else ("eof", None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] == "eof" or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise GraphQLError("Syntax Error: Expected %s, found %s." %
                               (value or kind, tok[1] if tok[0] != "eof" else "<EOF>"),
                               "GRAPHQL_PARSE_FAILED", 400)
        self.i += 1
        return tok[1]

    def operation(self):
        kind, var_types = "query", {}
        if self.peek()[0] == "n":
            kind = self.take("n")
            if kind not in ("query", "mutation"):
                raise GraphQLError("Syntax Error: Unexpected Name \"%s\"." % kind,
                                   "GRAPHQL_PARSE_FAILED", 400)
            if self.peek()[0] == "n":
                self.take("n")
            if self.peek() == ("p", "("):
                self.take("p", "(")
                while self.peek() != ("p", ")"):
                    self.take("p", "$")
                    name = self.take("n")
                    self.take("p", ":")
                    var_types[name] = self.type_ref()
                self.take("p", ")")
        sel = self.selection_set()
        if self.peek()[0] != "eof":
            raise _invalid("This fake runs one operation per request.")
        return kind, var_types, sel

    def type_ref(self):
        if self.peek() == ("p", "["):
            self.take("p", "[")
            inner = self.type_ref()
            self.take("p", "]")
            t = "[%s]" % inner
        else:
            t = self.take("n")
        if self.peek() == ("p", "!"):
            self.take("p", "!")
            t += "!"
        return t

    def selection_set(self):
        self.take("p", "{")
        fields = []
        while self.peek() != ("p", "}"):
            if self.peek() == ("p", "..."):
                raise _invalid("This fake does not support fragments.")
            name = self.take("n")
            if self.peek() == ("p", ":"):
                raise _invalid("This fake does not support aliases (%s)." % name)
            args = {}
            if self.peek() == ("p", "("):
                self.take("p", "(")
                while self.peek() != ("p", ")"):
                    an = self.take("n")
                    self.take("p", ":")
                    args[an] = self.value()
                self.take("p", ")")
            sub = self.selection_set() if self.peek() == ("p", "{") else None
            fields.append((name, args, sub))
        self.take("p", "}")
        if not fields:
            raise GraphQLError("Syntax Error: Expected Name, found \"}\".",
                               "GRAPHQL_PARSE_FAILED", 400)
        return fields

    def value(self):
        tok = self.peek()
        if tok == ("p", "$"):
            self.take("p", "$")
            return ("$", self.take("n"))
        if tok == ("p", "{"):
            self.take("p", "{")
            obj = {}
            while self.peek() != ("p", "}"):
                k = self.take("n")
                self.take("p", ":")
                obj[k] = self.value()
            self.take("p", "}")
            return obj
        if tok == ("p", "["):
            self.take("p", "[")
            items = []
            while self.peek() != ("p", "]"):
                items.append(self.value())
            self.take("p", "]")
            return items
        if tok[0] == "v":
            return self.take("v")
        name = self.take("n")
        return {"true": True, "false": False, "null": None}.get(name, name)


def _resolve(value, variables, var_types, expect):
    """A literal or $variable argument as plain Python (variables checked
    against the expected input type name)."""
    if isinstance(value, tuple) and value[0] == "$":
        name = value[1]
        if name not in var_types:
            raise _invalid("Variable \"$%s\" is not defined." % name)
        declared = var_types[name].rstrip("!")
        if expect and declared != expect:
            raise _invalid("Variable \"$%s\" of type \"%s\" used in position expecting type "
                           "\"%s\"." % (name, var_types[name], expect))
        if var_types[name].endswith("!") and variables.get(name) is None:
            raise GraphQLError("Variable \"$%s\" of non-null type \"%s\" must not be null."
                               % (name, var_types[name]), "BAD_USER_INPUT", 400)
        return variables.get(name)
    if isinstance(value, dict):
        return {k: _resolve(v, variables, var_types, None) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, variables, var_types, None) for v in value]
    return value


def _check_selection(type_name, sel, path):
    for name, _, sub in sel:
        field = TYPES[type_name].get(name)
        if field is None:
            raise _invalid("Cannot query field \"%s\" on type \"%s\"." % (name, type_name))
        target = field[0]
        if target is None and sub is not None:
            raise _invalid("Field \"%s\" must not have a selection since its type has no "
                           "subfields." % name)
        if target is not None and sub is None:
            raise _invalid("Field \"%s\" of type \"%s\" must have a selection of subfields."
                           % (name, target))
        if target is not None:
            _check_selection(target, sub, path + [name])


def _project(value, type_name, sel):
    """value (a dict, a list of dicts, None) cut down to the selection."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_project(v, type_name, sel) for v in value]
    out = {}
    for name, _, sub in sel:
        target = TYPES[type_name][name][0]
        v = value.get(name)
        out[name] = _project(v, target, sub) if target is not None else v
    return out


# ---- the HTTP side ------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-runpod"
    sys_version = ""
    timeout = 300

    def log_message(self, fmt, *args):
        if self.server.fake.verbose:
            sys.stderr.write("fake_runpod: %s %s\n" % (self.address_string(), fmt % args))

    def _send(self, status, body, headers=()):
        data = body.encode("utf-8") if isinstance(body, str) else body
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if data[:1] in (b"{", b"[")
                             else "text/plain")
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self.close_connection = True
            self._send(413, "request too large")
            return
        body = self.rfile.read(n) if n > 0 else b""
        path, _, query = self.path.partition("?")
        if path != "/graphql":
            self._send(404, "no such path %s" % path)
            return
        key = urllib.parse.parse_qs(query).get("api_key", [None])[0]
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            key = auth[len("Bearer "):]
        self.server.lagged(self.command, path, body)
        status, answer, headers = self.server.fake._api(key, body)
        self.server.held(self.command, path, body)
        self._send(status, answer, headers)

    def do_GET(self):
        self._send(405, "POST a GraphQL request to /graphql")


# ---- the fake -----------------------------------------------------------------------------

class _Pod:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.status = "RUNNING"          # desiredStatus
        self.node = None
        self.ready_at = None
        self.started = time.monotonic()


class FakeRunPod:
    """The fake RunPod endpoint; a context manager (see the module docstring
    and README.md). Attributes:

    url, api_key, user, gpu_types (list of dicts, editable).
    Fault switches (plain attributes, change any time): supply_constraint_types
    (gpuTypeIds, or "<gpuTypeId>/<secure|community>", answering SUPPLY_CONSTRAINT),
    no_spot (podRentInterruptable is not in the schema: 400 validation error),
    throttle_next (HTTP 429, Retry-After: 1), server_error_next (HTTP 500),
    lose_deploy_answer_next (the pod is made, then the answer is an HTTP 502: the
    client cannot know it was made),
    latency (seconds added to every call), boot_delay (seconds a pod's runtime
    stays null after its sshd listens).
    Records: calls [(root field, variables)], errors [(root field, code)].
    """

    def __init__(self, workdir, api_key="rp-test-key", user="skytest", port=0, verbose=False):
        self.workdir = os.path.abspath(workdir)
        self.api_key = api_key
        self.user = user
        self.verbose = verbose
        self.gpu_types = [dict(t) for t in DEFAULT_GPU_TYPES]
        self.supply_constraint_types = set()
        self.no_spot = False
        self.throttle_next = 0
        self.server_error_next = 0
        self.lose_deploy_answer_next = 0
        self.latency = 0.0
        self.boot_delay = 0.0
        self.calls = []
        self.errors = []
        self._lock = threading.RLock()
        self._pods = {}                  # id -> _Pod, in creation order
        self._closed = False
        self.nodes = NodeHost(os.path.join(self.workdir, "pods"), user=user)
        self._server = fakehttp.Server(self, _Handler, port).start("fake-runpod-http")
        self.port = self._server.port
        self.url = "http://127.0.0.1:%d/graphql" % self.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stops the server and every pod's sshd with its sessions; RuntimeError
        if a process survives."""
        if self._closed:
            return
        self._closed = True
        self._server.stop()
        with self._lock:
            for p in self._pods.values():
                if p.status == "RUNNING":
                    p.status = "TERMINATED"
        self.nodes.close()

    # ---- inspection and test controls ----

    def _pod_dict(self, p):
        n = p.node
        return {"id": p.id, "name": p.name, "desired_status": p.status,
                "gpu_type": p.gpu_type, "cloud": p.cloud, "gpu_count": p.gpu_count,
                "market": p.market, "bid_per_gpu": p.bid, "image": p.image, "env": dict(p.env),
                "docker_args": p.docker_args, "ports": p.ports, "start_ssh": p.start_ssh,
                "public_ip": p.public_ip, "address": n.address if n else None,
                "port": n.port if n else None, "host_key_source": p.host_key_source,
                "host_key_note": p.host_key_note, "host_public": n.host_public if n else None,
                "sshd_alive": bool(n and n.alive), "ready": bool(n and n.ready),
                "boot_error": n.failed if n else None}

    def pods(self):
        """Every pod ever made (creation order) as a dict."""
        with self._lock:
            return [self._pod_dict(p) for p in self._pods.values()]

    def live_pods(self):
        """Pods not terminated (EXITED ones still exist on RunPod)."""
        return [p for p in self.pods() if p["desired_status"] != "TERMINATED"]

    def pod(self, pod_id):
        with self._lock:
            return self._pod_dict(self._pods[pod_id])

    def sshd_alive(self):
        """The pods whose sshd still runs."""
        return [p for p in self.pods() if p["sshd_alive"]]

    def host_key(self, pod_id):
        with self._lock:
            n = self._pods[pod_id].node
        return n.host_public if n else None

    def reclaim(self, pod_id):
        """A spot interruption: the pod's sshd and sessions are killed and it
        is EXITED (still listed) before this returns."""
        with self._lock:
            p = self._pods[pod_id]
            p.status = "EXITED"
        if p.node:
            p.node.kill()

    def rekey(self, pod_id):
        """Restarts the pod's sshd with a NEW host key; the new public line."""
        return self._pods[pod_id].node.rekey()

    # ---- the API ----

    def _api(self, key, body):
        """(status, body, headers) of one request."""
        if self.latency:
            time.sleep(self.latency)
        if key != self.api_key:
            return 401, json.dumps({"errors": [{"message": "Unauthorized: invalid API key"}]}), ()
        try:
            req = json.loads(body or b"null")
            if not isinstance(req, dict) or not isinstance(req.get("query"), str):
                raise GraphQLError("POST body must be {\"query\": ..., \"variables\": ...}",
                                   "BAD_REQUEST", 400)
            variables = req.get("variables") or {}
            kind, var_types, sel = _Reader(req["query"]).operation()
        except ValueError as e:
            return 400, json.dumps({"errors": [{"message": "bad JSON: %s" % e}]}), ()
        except GraphQLError as e:
            return self._error("?", e)
        root = sel[0][0] if len(sel) == 1 else "?"
        with self._lock:
            self.calls.append((root, variables))
            if self.throttle_next > 0:
                self.throttle_next -= 1
                self.errors.append((root, "429"))
                return 429, json.dumps({"errors": [{"message": "Too Many Requests"}]}), \
                    (("Retry-After", "1"),)
            if self.server_error_next > 0:
                self.server_error_next -= 1
                self.errors.append((root, "500"))
                return 500, "Internal Server Error", ()
        try:
            if len(sel) != 1:
                raise _invalid("This fake answers one root field per request.")
            answer = json.dumps({"data": {root: self._root(kind, var_types, variables,
                                                            sel[0])}})
            with self._lock:
                lose = root in ("podFindAndDeployOnDemand", "podRentInterruptable") and \
                    self.lose_deploy_answer_next > 0
                if lose:
                    self.lose_deploy_answer_next -= 1
                    self.errors.append((root, "502"))
            if lose:
                return 502, "Bad Gateway", ()
            return 200, answer, ()
        except GraphQLError as e:
            return self._error(root, e)
        except Exception as e:     # noqa: BLE001 - the fake's own failure, said loudly
            traceback.print_exc()
            with self._lock:
                self.errors.append((root, "FAKE_FAILURE"))
            return 500, json.dumps({"errors": [{"message": "fake_runpod failed: %s" % e}]}), ()

    def _error(self, root, e):
        with self._lock:
            self.errors.append((root, e.code))
        doc = {"errors": [{"message": e.message, "path": [root],
                           "extensions": {"code": e.code}}]}
        if e.status == 200:
            doc["data"] = {root: None}
        return e.status, json.dumps(doc), ()

    def _root(self, kind, var_types, variables, field):
        name, args, sub = field
        parent = "Mutation" if kind == "mutation" else "Query"
        if name == "podRentInterruptable" and self.no_spot:
            raise _invalid("Cannot query field \"podRentInterruptable\" on type \"Mutation\".")
        _check_selection(parent, [field], [])
        itype, required = ROOT_INPUT[name]
        for a in args:
            if a != "input" or itype is None:
                raise _invalid("Unknown argument \"%s\" on field \"%s.%s\"." % (a, parent, name))
        inp = _resolve(args["input"], variables, var_types, itype) if "input" in args else None
        if required and inp is None:
            raise _invalid("Field \"%s\" argument \"input\" of type \"%s!\" is required."
                           % (name, itype))
        if inp is not None:
            if not isinstance(inp, dict):
                raise GraphQLError("Expected type \"%s\" to be an object." % itype,
                                   "BAD_USER_INPUT", 400)
            for k in inp:
                if k not in INPUTS[itype]:
                    raise GraphQLError("Field \"%s\" is not defined by type \"%s\"."
                                       % (k, itype), "BAD_USER_INPUT", 400)
        value = getattr(self, "_do_" + name)(inp or {})
        target = TYPES[parent][name][0]
        return _project(value, target, sub) if target else value

    def _do_gpuTypes(self, inp):
        with self._lock:
            types = [dict(t) for t in self.gpu_types]
        return [t for t in types if not inp.get("id") or t["id"] == inp["id"]]

    def _do_myself(self, inp):
        with self._lock:
            pods = [self._pod_view(p) for p in self._pods.values() if p.status != "TERMINATED"]
        return {"id": "user_fake", "pods": pods}

    def _do_pod(self, inp):
        with self._lock:
            p = self._pods.get(inp.get("podId"))
            return self._pod_view(p) if p and p.status != "TERMINATED" else None

    def _do_podTerminate(self, inp):
        with self._lock:
            p = self._pods.get(inp.get("podId"))
            if p is None:
                raise GraphQLError("Pod not found", "NOT_FOUND")
            p.status = "TERMINATED"
        if p.node:
            p.node.kill()
        return None

    def _do_podFindAndDeployOnDemand(self, inp):
        return self._deploy(inp, spot=False)

    def _do_podRentInterruptable(self, inp):
        return self._deploy(inp, spot=True)

    def _pod_view(self, p):
        """Under self._lock: the pod as the API shows it."""
        n, runtime = p.node, None
        if p.status == "RUNNING" and n is not None and n.failed:
            sys.stderr.write("fake_runpod: pod %s failed to boot: %s\n" % (p.id, n.failed))
            p.status = "EXITED"
        if p.status == "RUNNING" and n is not None and n.ready:
            if p.ready_at is None:
                p.ready_at = time.monotonic() + float(self.boot_delay)
            if time.monotonic() >= p.ready_at:
                ports = [{"ip": "10.65.0.%d" % (len(p.id) % 250 + 2), "isIpPublic": False,
                          "privatePort": 22, "publicPort": 22, "type": "tcp"}]
                if "22/tcp" in p.ports.split(","):
                    ports.append({"ip": n.address, "isIpPublic": bool(p.public_ip),
                                  "privatePort": 22, "publicPort": n.port, "type": "tcp"})
                runtime = {"uptimeInSeconds": int(time.monotonic() - p.ready_at),
                           "ports": ports}
        return {"id": p.id, "name": p.name, "desiredStatus": p.status, "imageName": p.image,
                "machineId": "m" + p.id[:8], "costPerHr": p.cost, "gpuCount": p.gpu_count,
                "podType": "INTERRUPTABLE" if p.market == "spot" else "RESERVED",
                "dockerArgs": p.docker_args, "runtime": runtime,
                "machine": {"podHostId": p.id + "-fake", "gpuDisplayName": p.gpu_type}}

    def _deploy(self, inp, spot):
        for k in ("gpuTypeId", "cloudType", "imageName"):
            if not isinstance(inp.get(k), str) or not inp[k]:
                raise GraphQLError("%s is required" % k, "BAD_USER_INPUT")
        cloud = inp["cloudType"]
        if cloud not in ("ALL", "SECURE", "COMMUNITY"):
            raise GraphQLError("Value \"%s\" does not exist in \"CloudTypeEnum\" enum." % cloud,
                               "BAD_USER_INPUT", 400)
        count = inp.get("gpuCount", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise GraphQLError("gpuCount must be a positive integer", "BAD_USER_INPUT")
        with self._lock:
            gt = next((dict(t) for t in self.gpu_types if t["id"] == inp["gpuTypeId"]), None)
        if gt is None:
            raise GraphQLError("gpuTypeId \"%s\" does not exist" % inp["gpuTypeId"],
                               "BAD_USER_INPUT")
        if count > int(gt.get("maxGpuCount") or 1):
            raise GraphQLError(CAPACITY_MESSAGE, "SUPPLY_CONSTRAINT")
        clouds = ["secure", "community"] if cloud == "ALL" else [cloud.lower()]
        field = "SpotPrice" if spot else "Price"
        clouds = [c for c in clouds if gt.get(c + "Cloud") and (gt.get(c + field) or 0) > 0]
        blocked = self.supply_constraint_types
        clouds = [c for c in clouds if gt["id"] not in blocked and
                  "%s/%s" % (gt["id"], c) not in blocked]
        if not clouds:
            raise GraphQLError(CAPACITY_MESSAGE, "SUPPLY_CONSTRAINT")
        cloud = clouds[0]
        price = float(gt[cloud + field])
        bid = None
        if spot:
            bid = inp.get("bidPerGpu")
            if not isinstance(bid, (int, float)) or isinstance(bid, bool):
                raise GraphQLError("bidPerGpu is required", "BAD_USER_INPUT")
            if bid + 1e-9 < price:
                raise GraphQLError("Your bid price is below the minimum bid price of $%.3f/hr"
                                   % price, "BAD_USER_INPUT")
        env = {}
        for e in inp.get("env") or []:
            if not isinstance(e, dict) or set(e) - {"key", "value"}:
                raise GraphQLError("env items are {key, value}", "BAD_USER_INPUT")
            env[e.get("key")] = e.get("value")
        docker_args = inp.get("dockerArgs") or ""
        private, source, note = self._host_key(docker_args, env)
        pod_id = "".join(secrets.choice(string.ascii_lowercase + string.digits)
                         for _ in range(14))
        p = _Pod(id=pod_id, name=inp.get("name") or "", gpu_type=gt["id"], cloud=cloud,
                 gpu_count=count, market="spot" if spot else "on-demand", bid=bid,
                 image=inp["imageName"], env=env, docker_args=docker_args,
                 ports=inp.get("ports") or "", start_ssh=bool(inp.get("startSsh")),
                 public_ip=bool(inp.get("supportPublicIp")), cost=round(price * count, 4),
                 host_key_source=source, host_key_note=note)
        keys = [env["PUBLIC_KEY"]] if p.start_ssh and env.get("PUBLIC_KEY") else []
        with self._lock:
            p.node = self.nodes.boot(authorized_keys=keys, host_key_private=private,
                                     name=pod_id)
            self._pods[pod_id] = p
            return self._pod_view(p)

    @staticmethod
    def _host_key(docker_args, env):
        """(private key text or None, "skyfs"/"generated", why) of what the
        start command installs: env SKYFS_HOST_KEY when dockerArgs decodes it
        into /etc/ssh/ssh_host_ed25519_key and parses as a shell command."""
        if not ("SKYFS_HOST_KEY" in docker_args and "base64 -d" in docker_args and
                "/etc/ssh/ssh_host_ed25519_key" in docker_args):
            return None, "generated", "dockerArgs does not install SKYFS_HOST_KEY"
        try:
            argv = shlex.split(docker_args)
        except ValueError as e:
            return None, "generated", "dockerArgs is not a shell command: %s" % e
        if len(argv) != 3 or argv[:2] != ["bash", "-c"]:
            return None, "generated", "dockerArgs is not bash -c SCRIPT"
        r = subprocess.run(["bash", "-n", "-c", argv[2]], capture_output=True, text=True,
                           timeout=10)
        if r.returncode != 0:
            return None, "generated", "dockerArgs's script does not parse: %s" % r.stderr
        try:
            text = base64.b64decode(env.get("SKYFS_HOST_KEY") or "", validate=True).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError) as e:
            return None, "generated", "SKYFS_HOST_KEY is not base64: %s" % e
        if "PRIVATE KEY" not in text:
            return None, "generated", "SKYFS_HOST_KEY is not a private key"
        return text, "skyfs", "installed from SKYFS_HOST_KEY by dockerArgs"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake RunPod GraphQL API with sshd pods")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--api-key", default="rp-test-key")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--url-file")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FakeRunPod(a.workdir, api_key=a.api_key, port=a.port, verbose=a.verbose) as rp:
        rp.latency = a.latency_ms / 1000.0
        if a.url_file:
            tmp = a.url_file + ".tmp.%d" % os.getpid()
            with open(tmp, "w") as f:
                f.write(rp.url + "\n")
            os.replace(tmp, a.url_file)
        print("fake_runpod: serving %s" % rp.url, flush=True)
        while not stop.wait(0.5):
            pass
        print("fake_runpod: stopping (%d pods made)" % len(rp.pods()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
