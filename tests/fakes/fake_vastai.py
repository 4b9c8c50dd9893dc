#!/usr/bin/env python3
"""A fake Vast.ai REST API whose instances are real sshd processes (standard
library only), for the vastai provider's end-to-end tests.

    from fake_vastai import FakeVast
    with FakeVast(workdir, api_key="vast-test-key") as vast:  # 127.0.0.1:<free port>
        vast.url            # "http://127.0.0.1:PORT/api/v0" (SKYFS_VASTAI_URL)
        vast.offers         # the asks for rent: a list of dicts, edit at will
        vast.gone_asks      # ask ids that answer 404 no_such_ask when rented
        vast.throttle_next  # the next k calls: 429, plain text, no Retry-After
        vast.server_error_next  # the next k calls: 500
        vast.outbid(id)     # an interruptible instance stopped: exited, sshd killed
        vast.instances(), vast.live_instances(), vast.instance(id), vast.calls

It speaks what shared/reference/provider-apis.md §3 says, quirks included:
`Authorization: Bearer KEY` on every call (another key: 401 with
{"success":false,"error":...,"msg":...}); POST /bundles/ (or GET
/bundles/?q=JSON) with filters {"field":{"op":value}} (op in eq neq gt gte lt
lte in notin), top-level `type` (on-demand, ondemand or bid: a bid needs a
min_bid), `order` [[field, "asc"|"desc"]] and `limit`, answering
{"offers":[...]} without the asks rented now; PUT /asks/{id}/ (image
required; a gone ask 404 no_such_ask; a bid `price` under min_bid 400
invalid_price) answering {"success":true,"new_contract":ID}; GET
/instances/?owner=me -> {"instances":[...]} and GET /instances/{id}/ ->
{"instances":{...}} (an object); POST /instances/{id}/ssh/ {"ssh_key":...};
DELETE /instances/{id}/. Errors are {"success":false,"error":CODE,"msg":TEXT}.
Checks, in order: the key, throttle_next, server_error_next, the call.

An instance is an sshd of tests/fakes/fakenodes.py (login user `skytest`,
its own loopback address, port 22), booted once the first SSH key is attached
(or boot_without_key seconds after the rental): actual_status is null at
first, "loading" until sshd listens, then "running". As on Vast, sshd starts
with the image's own host key (a fresh one); onstart_delay seconds later
"onstart runs": when it installs env SKYFS_HOST_KEY (base64 of an OpenSSH
private key; the command names $SKYFS_HOST_KEY and ssh_host_ed25519_key),
that key replaces the sshd's and the sshd is sent SIGHUP (it re-executes
and reloads its keys, as the real onstart makes it do); host_key_source says
"image" before, "onstart" after. Keys attached later are written to the
authorized_keys file the sshd reads. Destroyed instances vanish from the
listings and free their ask. SSH endpoint: ssh_host/ssh_port and, unless
direct_ports is False, public_ipaddr + ports["22/tcp"][0].HostPort.

Command line: fake_vastai.py --workdir DIR [--api-key K] [--port P]
[--url-file F] [--verbose]; serves until SIGTERM / SIGINT. Needs root.
"""

import argparse
import base64
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import fakehttp  # noqa: E402
from fakenodes import NodeHost, public_key_of_private  # noqa: E402

MAX_BODY = 1 << 20
FIRST_CONTRACT = 7000001


def _ask(aid, gpu, n, ram, dph, bid, geo, cpus, cpu_ram_gb):
    return {"id": aid, "ask_contract_id": aid, "machine_id": 80000 + aid, "gpu_name": gpu,
            "num_gpus": n, "gpu_ram": ram, "dph_total": dph, "min_bid": bid,
            "rentable": True, "verified": True, "reliability": 0.995, "geolocation": geo,
            "public_ipaddr": "203.0.113.%d" % (aid % 250 + 1), "cuda_max_good": 12.4,
            "cpu_cores_effective": float(cpus), "cpu_ram": cpu_ram_gb * 1024,
            "disk_space": 200.0}


def default_offers():
    """Three RTX 4090 machines in the US (cheapest first), one 8 x A100 80 GB
    one, one H100 SXM in Sweden."""
    return [
        _ask(101, "RTX 4090", 1, 24564, 0.40, 0.20, "US", 16, 64),
        _ask(102, "RTX 4090", 1, 24564, 0.45, 0.22, "US", 16, 64),
        _ask(103, "RTX 4090", 1, 24564, 0.52, 0.25, "US", 32, 128),
        _ask(201, "A100 SXM4", 8, 81920, 9.60, 5.10, "US", 128, 1024),
        _ask(301, "H100 SXM", 1, 81559, 2.40, 1.30, "Sweden, SE", 24, 128),
    ]


class VastError(Exception):
    def __init__(self, status, code, msg):
        Exception.__init__(self, "%d %s: %s" % (status, code, msg))
        self.status, self.code, self.msg = status, code, msg


def _matches(value, op, want):
    try:
        if op == "eq":
            return value == want
        if op == "neq":
            return value != want
        if op == "in":
            return value in want
        if op == "notin":
            return value not in want
        if value is None:
            return False
        return {"gt": value > want, "gte": value >= want, "lt": value < want,
                "lte": value <= want}[op]
    except (TypeError, KeyError):
        raise VastError(400, "invalid_args", "bad filter %s %r" % (op, want))


class _Instance:
    def __init__(self, iid, ask, body, created):
        self.id = iid
        self.ask = dict(ask)
        self.label = body.get("label")
        self.image = body.get("image")
        self.disk = body.get("disk")
        self.runtype = body.get("runtype")
        self.env = dict(body.get("env") or {})
        self.onstart = body.get("onstart") or ""
        self.price = body.get("price")
        self.created = created
        self.ssh_keys = []
        self.node = None
        self.host_key_source = None     # "image", then "onstart" once it installed ours
        self.host_public = None         # what the sshd serves once onstart ran
        self.destroyed = False
        self.stopped = None             # why Vast stopped it (outbid), or None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-vastai"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.fake.verbose:
            sys.stderr.write("fake_vastai: %s\n" % (fmt % args))

    def _send(self, status, body, ctype="application/json"):
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self.close_connection = True
            self._send(413, json.dumps({"success": False, "error": "invalid_args",
                                        "msg": "body too large"}))
            return
        raw = self.rfile.read(n) if n > 0 else b""
        self.server.lagged(self.command, self.path, raw)
        status, body, ctype = self.server.fake._api(self.command, self.path,
                                                    self.headers.get("Authorization", ""), raw)
        self.server.held(self.command, self.path, raw)
        self._send(status, body, ctype)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class FakeVast:
    """The fake endpoint; a context manager (see the module docstring).
    Switches (change any time): offers, gone_asks, throttle_next,
    server_error_next, latency, direct_ports, boot_without_key, onstart_delay.
    Events: outbid(id) (Vast stops an interruptible instance).
    Records: calls [(method, path, body)] of calls that passed the key
    check, errors [(method, path, status, code)]."""

    def __init__(self, workdir, api_key="vast-test-key", user="skytest", port=0,
                 verbose=False):
        self.workdir = os.path.abspath(workdir)
        self.api_key = api_key
        self.verbose = verbose
        self.offers = default_offers()
        self.gone_asks = set()
        self.throttle_next = 0
        self.server_error_next = 0
        self.latency = 0.0
        self.direct_ports = True
        self.boot_without_key = 5.0
        self.onstart_delay = 0.5
        self.calls = []
        self.errors = []
        self._lock = threading.RLock()
        self._instances = {}            # id -> _Instance, in rental order
        self._next_id = FIRST_CONTRACT
        self._to_kill = []              # nodes of destroyed instances, killed unlocked
        self._closed = False
        self._closing = threading.Event()
        os.makedirs(self.workdir, exist_ok=True)
        self._host = NodeHost(os.path.join(self.workdir, "instances"), user=user)
        self._server = fakehttp.Server(self, _Handler, port).start("fake-vastai-http")
        self.port = self._server.port
        self.url = "http://127.0.0.1:%d/api/v0" % self.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stops the server and every instance's sshd (RuntimeError if a
        process survives)."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._server.stop()
        self._host.close()

    # ---- inspection ----

    def _dict(self, inst):
        node = inst.node
        return {"id": inst.id, "ask_id": inst.ask["id"], "gpu_name": inst.ask["gpu_name"],
                "label": inst.label, "image": inst.image, "disk": inst.disk,
                "runtype": inst.runtype, "env": dict(inst.env), "onstart": inst.onstart,
                "price": inst.price, "market": "bid" if inst.price is not None else "on-demand",
                "ssh_keys": list(inst.ssh_keys), "host_key_source": inst.host_key_source,
                "host_public": inst.host_public or (node.host_public if node else None),
                "address": node.address if node else None,
                "actual_status": self._status(inst)[0], "destroyed": inst.destroyed,
                "alive": bool(node and node.alive)}

    def instances(self):
        with self._lock:
            return [self._dict(i) for i in self._instances.values()]

    def live_instances(self):
        """The instances not destroyed, and those whose sshd still runs."""
        return [i for i in self.instances() if not i["destroyed"] or i["alive"]]

    def instance(self, iid):
        with self._lock:
            return self._dict(self._instances[int(iid)])

    def outbid(self, iid):
        """An interruptible instance outbid: Vast stops it (actual_status
        exited, intended_status stopped); its sshd and sessions are killed
        before this returns."""
        with self._lock:
            inst = self._live(iid)
            inst.stopped = "Instance stopped: outbid by a higher bid"
            node = inst.node
        if node is not None:
            node.kill()

    def rented_asks(self):
        with self._lock:
            return {i.ask["id"] for i in self._instances.values() if not i.destroyed}

    # ---- instances ----

    def _boot(self, inst):
        """Under self._lock: starts the instance's sshd with the image's key,
        and its onstart."""
        if inst.node is not None or inst.destroyed:
            return
        inst.host_key_source = "image"
        inst.node = self._host.boot(authorized_keys=inst.ssh_keys, name=str(inst.id))
        key = None
        b64 = inst.env.get("SKYFS_HOST_KEY")
        if b64 and "$SKYFS_HOST_KEY" in inst.onstart and \
                "ssh_host_ed25519_key" in inst.onstart:
            try:
                key = base64.b64decode(b64, validate=True).decode()
                public_key_of_private(key)
            except ValueError:
                key = None
        if key:
            threading.Thread(target=self._onstart, args=(inst, key), daemon=True,
                             name="fake-vastai-onstart-%d" % inst.id).start()

    def _onstart(self, inst, key):
        """What the real onstart does: our key as the only host key, and
        SIGHUP to sshd (the same listener, re-executed)."""
        node = inst.node
        if not node.wait_ready(timeout=node.host.start_timeout + 5) or \
                self._closing.wait(float(self.onstart_delay or 0)):
            return
        with self._lock:
            if inst.destroyed or not node.ready:
                return
            path = node.host_key_path
            fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key if key.endswith("\n") else key + "\n")
            os.rename(path + ".new", path)
            pub = public_key_of_private(key)
            with open(path + ".pub", "w") as f:
                f.write(pub + "\n")
            if node.pid:
                os.kill(node.pid, signal.SIGHUP)
            inst.host_public = pub
            inst.host_key_source = "onstart"

    def _status(self, inst):
        """(actual_status, status_msg), booting the instance once it is due."""
        now = time.monotonic()
        if inst.node is None and now - inst.created >= self.boot_without_key:
            self._boot(inst)
        node = inst.node
        if inst.stopped:
            return "exited", inst.stopped
        if node is None:
            return (None if now - inst.created < 0.3 else "loading"), "waiting for an SSH key"
        if node.failed:
            return "exited", "Error: sshd did not start: %s" % node.failed.splitlines()[0]
        if node.ready:
            return "running", "success, running %s" % inst.image
        return "loading", "starting"

    def _wire(self, inst):
        status, msg = self._status(inst)
        node = inst.node
        d = {"id": inst.id, "actual_status": status,
             "intended_status": "stopped" if inst.stopped else "running",
             "cur_state": "running", "label": inst.label, "status_msg": msg,
             "image_uuid": inst.image, "gpu_name": inst.ask["gpu_name"],
             "num_gpus": inst.ask["num_gpus"], "gpu_ram": inst.ask["gpu_ram"],
             "geolocation": inst.ask.get("geolocation"), "machine_id": inst.ask.get("machine_id"),
             "dph_total": inst.price if inst.price is not None else inst.ask["dph_total"],
             "is_bid": inst.price is not None, "ssh_host": None, "ssh_port": None,
             "public_ipaddr": None, "ports": {}}
        if node is not None:
            d["ssh_host"], d["ssh_port"] = node.address, node.port
            if self.direct_ports:
                d["public_ipaddr"] = node.address
                d["ports"] = {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(node.port)}]}
        return d

    def _live(self, iid):
        try:
            inst = self._instances[int(iid)]
        except (KeyError, ValueError):
            inst = None
        if inst is None or inst.destroyed:
            raise VastError(404, "no_such_instance", "Instance %s not found." % iid)
        return inst

    # ---- the API ----

    def _api(self, method, path, auth, raw):
        """(status, body, content type) of one call."""
        if self.latency:
            time.sleep(self.latency)
        url = urllib.parse.urlsplit(path)
        route = url.path
        if not route.startswith("/api/v0/"):
            return 404, json.dumps({"success": False, "error": "not_found",
                                    "msg": "no such path %s" % route}), "application/json"
        route = route[len("/api/v0"):]
        query = urllib.parse.parse_qs(url.query)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<not JSON>"
        try:
            return self._locked_api(method, route, query, body, auth)
        finally:
            with self._lock:
                nodes, self._to_kill = self._to_kill, []
            # before the answer: a destroyed instance's sshd is gone when it comes
            self._host.kill_nodes(nodes)

    def _locked_api(self, method, route, query, body, auth):
        with self._lock:
            try:
                if auth != "Bearer " + self.api_key:
                    raise VastError(401, "invalid_user_key", "Invalid user key")
                self.calls.append((method, route, body))
                if self.throttle_next > 0:
                    self.throttle_next -= 1
                    self.errors.append((method, route, 429, None))
                    return 429, "API requests too frequent", "text/plain"
                if self.server_error_next > 0:
                    self.server_error_next -= 1
                    raise VastError(500, "server_error", "Internal server error")
                if body == "<not JSON>":
                    raise VastError(400, "invalid_args", "the body is not JSON")
                return 200, json.dumps(self._route(method, route, query, body)), \
                    "application/json"
            except VastError as e:
                if e.status != 429:
                    self.errors.append((method, route, e.status, e.code))
                return e.status, json.dumps({"success": False, "error": e.code,
                                             "msg": e.msg}), "application/json"

    def _route(self, method, route, query, body):
        parts = [p for p in route.split("/") if p]
        if parts == ["bundles"] and method in ("POST", "PUT", "GET"):
            if method == "GET":
                body = json.loads(query.get("q", ["{}"])[0])
            return self._bundles(body or {})
        if len(parts) == 2 and parts[0] == "asks" and method == "PUT":
            return self._rent(parts[1], body or {})
        if parts == ["instances"] and method == "GET":
            return {"instances": [self._wire(i) for i in self._instances.values()
                                  if not i.destroyed]}
        if len(parts) == 2 and parts[0] == "instances" and method == "GET":
            return {"instances": self._wire(self._live(parts[1]))}
        if len(parts) == 2 and parts[0] == "instances" and method == "DELETE":
            return self._destroy(parts[1])
        if len(parts) == 3 and parts[0] == "instances" and parts[2] == "ssh" and \
                method == "POST":
            return self._attach(parts[1], body or {})
        raise VastError(404, "not_found", "no such endpoint %s %s" % (method, route))

    def _bundles(self, q):
        if not isinstance(q, dict):
            raise VastError(400, "invalid_args", "the query is not an object")
        kind = q.get("type", "on-demand")
        if kind not in ("on-demand", "ondemand", "bid"):
            raise VastError(400, "invalid_args", "type must be on-demand or bid")
        rented = {i.ask["id"] for i in self._instances.values() if not i.destroyed}
        out = []
        for ask in self.offers:
            if ask["id"] in rented or (kind == "bid" and not ask.get("min_bid")):
                continue
            ok = True
            for field, cond in q.items():
                if field in ("type", "order", "limit", "allocated_storage"):
                    continue
                if not isinstance(cond, dict):
                    raise VastError(400, "invalid_args", "filter %s is not an object" % field)
                for op, want in cond.items():
                    if op not in ("eq", "neq", "gt", "gte", "lt", "lte", "in", "notin"):
                        raise VastError(400, "invalid_args", "unknown operator %s" % op)
                    ok = ok and _matches(ask.get(field), op, want)
            if ok:
                out.append(dict(ask))
        for field, direction in reversed(q.get("order") or []):
            out.sort(key=lambda a: (a.get(field) is None, a.get(field) or 0),
                     reverse=(direction == "desc"))
        return {"offers": out[:int(q.get("limit") or 64)]}

    def _rent(self, aid, body):
        try:
            aid = int(aid)
        except ValueError:
            raise VastError(400, "invalid_args", "ask id must be an integer")
        if not isinstance(body, dict) or not body.get("image"):
            raise VastError(400, "invalid_args", "image is required")
        ask = next((a for a in self.offers if a["id"] == aid), None)
        rented = any(i.ask["id"] == aid and not i.destroyed for i in self._instances.values())
        if ask is None or rented or aid in self.gone_asks:
            raise VastError(404, "no_such_ask", "Instance type by id %d is not available." % aid)
        price = body.get("price")
        if price is not None and (not ask.get("min_bid") or price < ask["min_bid"]):
            raise VastError(400, "invalid_price", "bid %s is under the minimum %s"
                            % (price, ask.get("min_bid")))
        iid = self._next_id
        self._next_id += 1
        self._instances[iid] = _Instance(iid, ask, body, time.monotonic())
        return {"success": True, "new_contract": iid}

    def _attach(self, iid, body):
        inst = self._live(iid)
        key = body.get("ssh_key") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key.startswith("ssh-"):
            raise VastError(400, "invalid_args", "ssh_key must be an OpenSSH public key")
        key = key.strip()
        if key not in inst.ssh_keys:
            inst.ssh_keys.append(key)
        if inst.node is None:
            self._boot(inst)
        else:
            # the sshd reads this file at every login
            path = inst.node.authorized_keys_path
            with open(path + ".new", "w") as f:
                f.write("".join(k + "\n" for k in inst.ssh_keys))
            os.chmod(path + ".new", 0o644)
            os.rename(path + ".new", path)
        return {"success": True}

    def _destroy(self, iid):
        inst = self._live(iid)
        inst.destroyed = True
        if inst.node is not None:
            self._to_kill.append(inst.node)
        return {"success": True}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--api-key", default="vast-test-key")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--url-file")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FakeVast(a.workdir, api_key=a.api_key, port=a.port, verbose=a.verbose) as fake:
        if a.url_file:
            with open(a.url_file + ".tmp", "w") as f:
                f.write(fake.url + "\n")
            os.rename(a.url_file + ".tmp", a.url_file)
        print(fake.url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
