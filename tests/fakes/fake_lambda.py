#!/usr/bin/env python3
"""A fake Lambda Cloud REST API whose instances are real sshd processes
(standard library only). Wire shapes: shared/reference/provider-apis.md
section 4.

    from fake_lambda import FakeLambda
    with FakeLambda(workdir, api_key="lambda-test-key") as lam:
        lam.url                  # "http://127.0.0.1:PORT/api/v1" (SKYFS_LAMBDA_URL)
        lam.instance_types       # {name: {"name", "description", "gpu_description",
                                 #   "price_cents", "specs": {...}, "regions": [names]}}
        lam.no_capacity_types = {"gpu_1x_a10"}
        lam.throttle_next = 2    # the next 2 calls: 429, Retry-After: 1
        lam.server_error_next = 1
        lam.launch_interval = 1.0  # a launch sooner than this after the last: 429
        lam.instances(), lam.live_instances(), lam.ssh_keys(), lam.calls
    # leaving the block stops the server and every instance's sshd

Authentication: "Authorization: Bearer KEY" or Basic with KEY as the user and
an empty password; anything else is 401 global/invalid-api-key
(account_inactive = True: 403 global/account-inactive). Errors are
{"error": {"code", "message", "suggestion"}}.

Endpoints (under /api/v1): GET /instance-types; GET /instances,
GET /instances/{id}; POST /instance-operations/launch {region_name,
instance_type_name, ssh_key_names: [one name], quantity, name (<= 64)};
POST /instance-operations/terminate {instance_ids}; GET /ssh-keys,
POST /ssh-keys {name, public_key}, DELETE /ssh-keys/{id}.

An instance (32 hex id) is "booting" until its sshd listens (plus boot_delay),
then "active"; its ip (= private_ip = its own loopback address, port 22)
shows ip_delay seconds after that. Each is a real sshd for the login user
`skytest` (tests/fakes/fakenodes.py) whose only authorized key is the
launch's SSH key, with a host key of its own (Lambda takes no user data:
the client learns the key on first use). Terminate kills its sshd and
sessions before answering: "terminating", then "terminated" after
terminate_delay; terminated instances stay listed.

Fault switches (plain attributes, change any time; checked in this order
after authentication): latency (seconds added to every call),
throttle_next (k calls -> 429 with Retry-After: 1), server_error_next
(k calls -> 500), then for launches: launch_interval (seconds; a launch
sooner than that after the previous launch -> 429; default 0),
no_capacity_types (launch of these -> 400
instance-operations/launch/insufficient-capacity, as is a region without
capacity for the type), max_instances (live instances beyond it -> 400
global/quota-exceeded). A second SSH key with a name in use -> 400
global/invalid-parameters; an unknown instance or key id -> 404
global/object-does-not-exist (one unknown id fails a whole terminate).

Inspection: instances() / live_instances() (dicts: id, name, status, ip,
address, type, region, ssh_key_names, host_public, boot_error, launched_at),
instance(id), ssh_keys() (dicts: id, name, public_key), calls (dicts: t
(time.monotonic()), method, path, body, status, code; every call, failed
authentication included), launches() (the calls to launch).

Needs root (the login user, sshd).
"""

import argparse
import base64
import http.server
import json
import os
import secrets
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import fakehttp  # noqa: E402
from fakenodes import NodeHost  # noqa: E402

PREFIX = "/api/v1"
MAX_BODY = 1 << 20
NAME_MAX = 64

REGIONS = {"us-east-1": "Virginia, USA", "us-west-1": "California, USA",
           "us-south-1": "Texas, USA", "us-midwest-1": "Illinois, USA"}


def _type(name, desc, gpu, cents, vcpus, mem, storage, gpus, regions):
    return {"name": name, "description": desc, "gpu_description": gpu, "price_cents": cents,
            "specs": {"vcpus": vcpus, "memory_gib": mem, "storage_gib": storage, "gpus": gpus},
            "regions": list(regions)}


def default_instance_types():
    """What GET /instance-types lists by default (2025 prices, in cents)."""
    rows = [
        _type("gpu_1x_a10", "1x A10 (24 GB PCIe)", "A10 (24 GB PCIe)", 75, 30, 200, 1400, 1,
              ["us-east-1", "us-west-1"]),
        _type("gpu_1x_a100", "1x A100 (40 GB PCIe)", "A100 (40 GB PCIe)", 129, 30, 200, 512, 1,
              ["us-east-1"]),
        _type("gpu_1x_a100_sxm4", "1x A100 (40 GB SXM4)", "A100 (40 GB SXM4)", 129, 30, 200,
              512, 1, ["us-east-1", "us-south-1"]),
        _type("gpu_1x_h100_pcie", "1x H100 (80 GB PCIe)", "H100 (80 GB PCIe)", 249, 26, 200,
              1000, 1, ["us-west-1"]),
        _type("gpu_8x_a100_80gb_sxm4", "8x A100 (80 GB SXM4)", "A100 (80 GB SXM4)", 1432, 240,
              1800, 20000, 8, []),
        _type("gpu_8x_h100_sxm5", "8x H100 (80 GB SXM5)", "H100 (80 GB SXM5)", 2392, 208, 1800,
              24000, 8, []),
    ]
    return {r["name"]: r for r in rows}


class LambdaError(Exception):
    def __init__(self, status, code, message, suggestion=None, retry_after=None):
        Exception.__init__(self, "%s: %s" % (code, message))
        self.status = status
        self.code = code
        self.message = message
        self.suggestion = suggestion
        self.retry_after = retry_after


def _invalid(message):
    return LambdaError(400, "global/invalid-parameters", message)


class _Instance:
    def __init__(self, iid, name, itype, region, key_name, node):
        self.id = iid
        self.name = name
        self.type = itype
        self.region = region
        self.key_name = key_name
        self.node = node
        self.status = "booting"
        self.launched_at = time.monotonic()
        self.ready_seen = None
        self.active_at = None
        self.terminated_at = None
        self.boot_error = None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeLambda"
    sys_version = ""
    timeout = 300

    def log_message(self, fmt, *args):
        if self.server.fake.verbose:
            sys.stderr.write("fake_lambda: %s\n" % (fmt % args))

    def _send(self, status, doc, retry_after=None):
        data = json.dumps(doc).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _handle(self):
        fake = self.server.fake
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self.close_connection = True
            self._send(413, fake._error_doc(_invalid("body too large")))
            return
        raw = self.rfile.read(n) if n > 0 else b""
        self.server.lagged(self.command, self.path, raw)
        status, doc, retry_after = fake._api(self.command, self.path.split("?", 1)[0],
                                             self.headers.get("Authorization", ""), raw)
        self.server.held(self.command, self.path, raw)
        self._send(status, doc, retry_after)

    do_GET = do_POST = do_DELETE = do_PUT = _handle


class FakeLambda:
    """The fake Lambda Cloud API; a context manager (see the module docstring)."""

    def __init__(self, workdir, api_key="lambda-test-key", user="skytest", port=0,
                 verbose=False):
        self.workdir = os.path.abspath(workdir)
        self.api_key = api_key
        self.user = user
        self.verbose = verbose

        self.instance_types = default_instance_types()
        self.latency = 0.0
        self.throttle_next = 0
        self.server_error_next = 0
        self.launch_interval = 0.0
        self.no_capacity_types = set()
        self.max_instances = None
        self.account_inactive = False
        self.boot_delay = 0.0
        self.ip_delay = 0.0
        self.terminate_delay = 0.3
        self.calls = []

        self._lock = threading.RLock()
        self._instances = {}         # id -> _Instance, in launch order
        self._keys = {}              # id -> {"id", "name", "public_key"}
        self._last_launch = None
        self._closed = False
        os.makedirs(self.workdir, exist_ok=True)
        self._host = NodeHost(os.path.join(self.workdir, "instances"), user=user)
        self._server = fakehttp.Server(self, _Handler, port).start("fake-lambda-http")
        self.port = self._server.port
        self.url = "http://127.0.0.1:%d%s" % (self.port, PREFIX)

    # ---- context ----

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stops the server and every instance's sshd with its sessions;
        RuntimeError if a process survives."""
        if self._closed:
            return
        self._closed = True
        self._server.stop()
        with self._lock:
            for inst in self._instances.values():
                if inst.status != "terminated":
                    inst.status = "terminated"
        self._host.close()

    # ---- inspection ----

    def _refresh(self, inst, now):
        """Lazy status changes (under self._lock)."""
        if inst.status == "booting":
            if inst.node.failed:
                inst.status = "unhealthy"
                inst.boot_error = inst.node.failed
            elif inst.node.ready:
                if inst.ready_seen is None:
                    inst.ready_seen = now
                if now - inst.ready_seen >= self.boot_delay:
                    inst.status = "active"
                    inst.active_at = now
        elif inst.status == "terminating" and now - inst.terminated_at >= self.terminate_delay:
            inst.status = "terminated"

    def _ip(self, inst, now):
        if inst.active_at is None or now - inst.active_at < self.ip_delay:
            return None
        return inst.node.address

    def _inst_dict(self, inst, now):
        return {"id": inst.id, "name": inst.name, "status": inst.status,
                "ip": self._ip(inst, now), "address": inst.node.address, "type": inst.type,
                "region": inst.region, "ssh_key_names": [inst.key_name],
                "host_public": inst.node.host_public, "boot_error": inst.boot_error,
                "launched_at": inst.launched_at}

    def instances(self):
        """Every instance, in launch order, as a dict."""
        with self._lock:
            now = time.monotonic()
            out = []
            for inst in self._instances.values():
                self._refresh(inst, now)
                out.append(self._inst_dict(inst, now))
            return out

    def live_instances(self):
        return [i for i in self.instances() if i["status"] != "terminated"]

    def instance(self, iid):
        with self._lock:
            inst = self._instances[iid]
            now = time.monotonic()
            self._refresh(inst, now)
            return self._inst_dict(inst, now)

    def ssh_keys(self):
        with self._lock:
            return [dict(k) for k in self._keys.values()]

    def launches(self):
        return [c for c in self.calls if c["path"] == PREFIX + "/instance-operations/launch"]

    # ---- the API ----

    @staticmethod
    def _error_doc(e):
        err = {"code": e.code, "message": e.message}
        if e.suggestion:
            err["suggestion"] = e.suggestion
        return {"error": err}

    def _authorized(self, header):
        kind, _, cred = header.partition(" ")
        if kind.lower() == "bearer":
            return cred.strip() == self.api_key
        if kind.lower() == "basic":
            try:
                user, _, pw = base64.b64decode(cred.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return user == self.api_key and pw == ""
        return False

    def _api(self, method, path, auth, raw):
        call = {"t": time.monotonic(), "method": method, "path": path, "body": None,
                "status": 200, "code": None}
        retry_after = None
        try:
            if self.latency:
                time.sleep(self.latency)
            try:
                call["body"] = json.loads(raw.decode()) if raw else None
            except (ValueError, UnicodeDecodeError):
                raise _invalid("the body is not JSON")
            if not self._authorized(auth):
                raise LambdaError(401, "global/invalid-api-key", "API key was invalid, "
                                  "expired, or deleted.", "Check your API key or create a "
                                  "new one, then try again.")
            if self.account_inactive:
                raise LambdaError(403, "global/account-inactive", "Your account is inactive.",
                                  "Make sure you have verified your email address.")
            with self._lock:
                if self.throttle_next > 0:
                    self.throttle_next -= 1
                    raise LambdaError(429, "global/too-many-requests", "Too many requests.",
                                      retry_after=1)
                if self.server_error_next > 0:
                    self.server_error_next -= 1
                    raise LambdaError(500, "global/internal-error", "Internal server error.")
            doc = self._route(method, path, call["body"])
        except LambdaError as e:
            call["status"], call["code"] = e.status, e.code
            retry_after = e.retry_after
            doc = self._error_doc(e)
        with self._lock:
            self.calls.append(call)
        return call["status"], doc, retry_after

    def _route(self, method, path, body):
        if not path.startswith(PREFIX + "/"):
            raise LambdaError(404, "global/object-does-not-exist", "No such path %s" % path)
        parts = path[len(PREFIX) + 1:].strip("/").split("/")
        if method == "GET" and parts == ["instance-types"]:
            return self._instance_types()
        if method == "GET" and parts == ["instances"]:
            return {"data": [self._wire(d) for d in self.instances()]}
        if method == "GET" and len(parts) == 2 and parts[0] == "instances":
            with self._lock:
                if parts[1] not in self._instances:
                    raise LambdaError(404, "global/object-does-not-exist",
                                      "Specified instance does not exist.")
            return {"data": self._wire(self.instance(parts[1]))}
        if method == "POST" and parts == ["instance-operations", "launch"]:
            return self._launch(body)
        if method == "POST" and parts == ["instance-operations", "terminate"]:
            return self._terminate(body)
        if method == "GET" and parts == ["ssh-keys"]:
            return {"data": self.ssh_keys()}
        if method == "POST" and parts == ["ssh-keys"]:
            return self._add_key(body)
        if method == "DELETE" and len(parts) == 2 and parts[0] == "ssh-keys":
            with self._lock:
                if self._keys.pop(parts[1], None) is None:
                    raise LambdaError(404, "global/object-does-not-exist",
                                      "Specified SSH key does not exist.")
            return {"data": {}}
        raise LambdaError(404, "global/object-does-not-exist",
                          "No such endpoint %s %s" % (method, path))

    def _type_doc(self, t):
        return {"name": t["name"], "description": t["description"],
                "gpu_description": t["gpu_description"],
                "price_cents_per_hour": t["price_cents"], "specs": dict(t["specs"])}

    def _instance_types(self):
        data = {}
        for name, t in list(self.instance_types.items()):
            data[name] = {"instance_type": self._type_doc(t),
                          "regions_with_capacity_available": [
                              {"name": r, "description": REGIONS.get(r, r)}
                              for r in t["regions"]]}
        return {"data": data}

    def _wire(self, d):
        t = self.instance_types.get(d["type"])
        return {"id": d["id"], "name": d["name"], "ip": d["ip"], "private_ip": d["ip"],
                "status": d["status"], "ssh_key_names": d["ssh_key_names"],
                "file_system_names": [], "hostname": d["ip"] and d["ip"].replace(".", "-"),
                "region": {"name": d["region"], "description": REGIONS.get(d["region"], "")},
                "instance_type": self._type_doc(t) if t else {"name": d["type"]},
                "is_reserved": False}

    def _launch(self, body):
        if not isinstance(body, dict):
            raise _invalid("a JSON object is required")
        region, itype = body.get("region_name"), body.get("instance_type_name")
        keys, quantity = body.get("ssh_key_names"), body.get("quantity", 1)
        name = body.get("name")
        with self._lock:
            now = time.monotonic()
            if self.launch_interval and self._last_launch is not None and \
                    now - self._last_launch < self.launch_interval:
                raise LambdaError(429, "global/too-many-requests", "Too many launch requests.",
                                  retry_after=1)
            self._last_launch = now
            if not isinstance(region, str) or not isinstance(itype, str):
                raise _invalid("region_name and instance_type_name are required")
            t = self.instance_types.get(itype)
            if t is None:
                raise _invalid("Invalid instance type %s" % itype)
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
                raise _invalid("quantity must be a positive integer")
            if not isinstance(keys, list) or len(keys) != 1 or not isinstance(keys[0], str):
                raise _invalid("ssh_key_names must name exactly one SSH key")
            key = next((k for k in self._keys.values() if k["name"] == keys[0]), None)
            if key is None:
                raise _invalid("SSH key %s does not exist" % keys[0])
            if name is not None and (not isinstance(name, str) or len(name) > NAME_MAX):
                raise _invalid("name must be a string of at most %d characters" % NAME_MAX)
            if itype in self.no_capacity_types or region not in t["regions"]:
                raise LambdaError(400, "instance-operations/launch/insufficient-capacity",
                                  "Not enough capacity to fulfill launch request.",
                                  "Choose an instance type that has available capacity.")
            live = sum(1 for i in self._instances.values() if i.status != "terminated")
            if self.max_instances is not None and live + quantity > self.max_instances:
                raise LambdaError(400, "global/quota-exceeded",
                                  "Quota exceeded: at most %d instances." % self.max_instances,
                                  "Contact support to raise your quota.")
            ids = []
            for _ in range(quantity):
                iid = secrets.token_hex(16)
                node = self._host.boot(authorized_keys=[key["public_key"]], name=iid)
                self._instances[iid] = _Instance(iid, name or "", itype, region, key["name"],
                                                 node)
                ids.append(iid)
        return {"data": {"instance_ids": ids}}

    def _terminate(self, body):
        ids = body.get("instance_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise _invalid("instance_ids must be a list of instance ids")
        with self._lock:
            for i in ids:
                if i not in self._instances:
                    raise LambdaError(404, "global/object-does-not-exist",
                                      "Specified instance %s does not exist." % i)
            insts = [self._instances[i] for i in ids]
        self._host.kill_nodes([i.node for i in insts])
        with self._lock:
            now = time.monotonic()
            for inst in insts:
                self._refresh(inst, now)
                if inst.status not in ("terminating", "terminated"):
                    inst.status = "terminating"
                    inst.terminated_at = now
        return {"data": {"terminated_instances": [self._wire(self.instance(i)) for i in ids]}}

    def _add_key(self, body):
        if not isinstance(body, dict):
            raise _invalid("a JSON object is required")
        name, pub = body.get("name"), body.get("public_key")
        if not isinstance(name, str) or not name or len(name) > NAME_MAX:
            raise _invalid("name must be 1 to %d characters" % NAME_MAX)
        if not isinstance(pub, str) or not pub.startswith("ssh-") or len(pub.split()) < 2:
            raise _invalid("public_key is not an OpenSSH public key")
        with self._lock:
            if any(k["name"] == name for k in self._keys.values()):
                raise _invalid("An SSH key named %s already exists." % name)
            key = {"id": secrets.token_hex(16), "name": name, "public_key": pub.strip()}
            self._keys[key["id"]] = key
        return {"data": dict(key)}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake Lambda Cloud API with sshd instances")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--api-key", default="lambda-test-key")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--url-file")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FakeLambda(a.workdir, api_key=a.api_key, port=a.port, verbose=a.verbose) as lam:
        if a.url_file:
            tmp = a.url_file + ".tmp.%d" % os.getpid()
            with open(tmp, "w") as f:
                f.write(lam.url + "\n")
            os.replace(tmp, a.url_file)
        print("fake_lambda: serving %s" % lam.url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
