"""The HTTP server every fake cloud API runs (Python standard library only):
threaded, on 127.0.0.1, served from a daemon thread; its handlers reach
their fake as self.server.fake.

    server = fakehttp.Server(fake, Handler, port).start("fake-lambda-http")
    server.port
    server.stop()          # no new requests, open keep-alive connections cut,
                           # the socket closed, the thread joined
    server.hold("launch", seconds=60)   # the next call whose "METHOD PATH
                           # BODY" contains "launch" takes effect, but its
                           # answer comes 60 s later (or at stop()): the
                           # answer a client that gives up or dies meanwhile
                           # never sees. Handlers call held(method, path, body)
                           # after the call and before answering.
    server.lag("launch")   # the next call that matches waits before it takes
                           # effect, until server.release() (or stop()): a
                           # request still in the network when its client
                           # died, landing later. server.lagging is set once
                           # it waits, server.lagged_call is its "METHOD PATH
                           # BODY". Handlers call lagged(method, path, body)
                           # before the call.
"""

import http.server
import socket
import threading


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256      # 64 provisioning threads may call at once
    allow_reuse_address = True

    def __init__(self, fake, handler, port=0):
        self.fake = fake
        self._thread = None
        self._conns = set()       # open connections: a client's keep-alive
        self._conns_lock = threading.Lock()
        http.server.ThreadingHTTPServer.__init__(self, ("127.0.0.1", port), handler)
        self.port = self.server_address[1]
        self._hold = None         # (text to match, seconds, calls left)
        self._lag = None          # (text to match, None, calls left)
        self._released = threading.Event()
        self.lagging = threading.Event()
        self.lagged_call = None
        self._stopping = threading.Event()

    def hold(self, match, seconds=60.0, count=1):
        with self._conns_lock:
            self._hold = (match, float(seconds), int(count))

    def lag(self, match, count=1):
        with self._conns_lock:
            self._lag = (match, None, int(count))
            self._released.clear()
            self.lagging.clear()

    def release(self):
        self._released.set()

    def _claim(self, rule, method, path, body):
        """The call's "METHOD PATH BODY" and the rule named rule (match,
        seconds, calls left) when the call matches it with calls left, one
        call fewer; else (text, None)."""
        text = "%s %s %s" % (method, path, body.decode("utf-8", "replace")
                             if isinstance(body, bytes) else body)
        with self._conns_lock:
            r = getattr(self, rule)
            if not r or r[0] not in text or r[2] <= 0:
                return text, None
            setattr(self, rule, (r[0], r[1], r[2] - 1))
            return text, r

    def lagged(self, method, path, body):
        """Waits before a call that matches the lag takes effect."""
        text, rule = self._claim("_lag", method, path, body)
        if not rule:
            return
        self.lagged_call = text
        self.lagging.set()
        while not self._released.wait(0.1) and not self._stopping.is_set():
            pass

    def held(self, method, path, body):
        """Waits before the answer of a call that matches the hold."""
        _, rule = self._claim("_hold", method, path, body)
        if rule:
            self._stopping.wait(rule[1])

    def process_request(self, request, client_address):
        with self._conns_lock:
            self._conns.add(request)
        http.server.ThreadingHTTPServer.process_request(self, request, client_address)

    def shutdown_request(self, request):
        with self._conns_lock:
            self._conns.discard(request)
        http.server.ThreadingHTTPServer.shutdown_request(self, request)

    def start(self, name):
        self._thread = threading.Thread(target=self.serve_forever,
                                        kwargs={"poll_interval": 0.1}, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=5):
        self._stopping.set()
        self._released.set()
        self.shutdown()
        self.server_close()
        # a handler waiting on an idle keep-alive connection would outlive us
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=timeout)
