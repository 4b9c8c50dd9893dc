"""pools/<p>/timeline.svg: the pool's life as a standalone SVG picture. Nodes
and their slots are rows, jobs are bars coloured by outcome with a tooltip
each, nodes have provisioning, up and teardown spans, and the cost is the
one `cost` shows. The SVG must parse as XML with hostile job names, stay
bounded with many jobs, and draw in a real browser (headless Chromium)."""

import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zlib

from harness import SkyfsTestCase, kv_lines, read, read_bytes, wait_for, write

NS = "{http://www.w3.org/2000/svg}"
COLOURS = {"succeeded": "#2ca02c", "failed": "#d62728", "cancelled": "#9a9a9a",
           "lost": "#ff7f0e", "running": "#1f77b4"}
HOSTILE = "a&b<c>\"d'.sh"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MAX_BARS = 300   # scheduler/timeline.c TL_MAX_BARS


def parse(data):
    root = ET.fromstring(data)
    assert root.tag == NS + "svg", root.tag
    return root


def bars(root):
    """{job name: [(outcome, fill, attributes, title lines)]} of the job bars
    (the legend's swatches have no title)."""
    out = {}
    for r in root.iter(NS + "rect"):
        cls = r.get("class", "").split()
        title = r.find(NS + "title")
        if cls[:1] == ["bar"] and title is not None:
            lines = title.text.split("\n")
            out.setdefault(lines[0], []).append((cls[1], r.get("fill"), r.attrib, lines))
    return out


def spans(root):
    """[(class, title)] of the node spans."""
    return [(r.get("class"), r.find(NS + "title").text) for r in root.iter(NS + "rect")
            if r.get("class", "").startswith("span ") and r.find(NS + "title") is not None]


def texts(root, cls=None):
    return ["".join(t.itertext()) for t in root.iter(NS + "text")
            if cls is None or cls in t.get("class", "").split()]


def decode_png(data):
    """(width, height, bytes per pixel, rows) of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert depth == 8 and ctype in (2, 6) and not interlace, (depth, ctype, interlace)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride, rows, prev, at = w * bpp, [], bytearray(w * bpp), 0
    for _ in range(h):
        f, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


class Timeline(SkyfsTestCase):
    def timeline(self, pool):
        data = read_bytes(os.path.join(pool, "timeline.svg"))
        return data, parse(data)

    def check_in_browser(self, data, expect):
        """Headless Chromium draws data; each (rect attributes, colour) of
        expect must be mostly that colour in the screenshot."""
        root = parse(data)
        w, h = int(root.get("width")), int(root.get("height"))
        tmp = tempfile.mkdtemp(prefix="skyfs-timeline-browser-")
        self.addCleanup(shutil.rmtree, tmp, True)
        svg, png = os.path.join(tmp, "timeline.svg"), os.path.join(tmp, "shot.png")
        write(svg, data)
        proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--force-device-scale-factor=1", "--user-data-dir=" + os.path.join(tmp, "profile"),
             "--screenshot=" + png, "--window-size=%d,%d" % (w, h), "file://" + svg],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=dict(os.environ, HOME=tmp), start_new_session=True)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            err = b"timed out after 60s"
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)   # helpers it left behind
            except OSError:
                pass
            proc.wait()
        self.assertTrue(os.path.exists(png), err.decode(errors="replace")[-2000:])
        pw, ph, bpp, rows = decode_png(read_bytes(png))
        self.assertEqual((pw, ph), (w, h))
        for attrib, colour in expect:
            want = bytes.fromhex(colour[1:])
            x0, y0 = int(float(attrib["x"])), int(float(attrib["y"]))
            x1 = int(float(attrib["x"]) + float(attrib["width"]))
            y1 = int(float(attrib["y"]) + float(attrib["height"]))
            area = same = 0
            for y in range(y0 + 1, y1 - 1):
                for x in range(x0 + 1, x1 - 1):
                    px = rows[y][x * bpp:x * bpp + 3]
                    area += 1
                    same += all(abs(px[i] - want[i]) <= 12 for i in range(3))
            self.assertGreater(area, 0, attrib)
            self.assertGreater(same / area, 0.6, "bar %s at %s: %d of %d pixels %s"
                               % (attrib.get("class"), (x0, y0, x1, y1), same, area, colour))

    def test_jobs_as_bars_by_outcome(self):
        pool = self.make_pool("t", "slots = 2\n")
        self.assertIn("timeline.svg", os.listdir(pool))
        self.submit(pool, "ok.sh", "sleep 0.6\n")
        self.submit(pool, "long.sh", "sleep 30\n")
        self.wait_job_state(pool, "long.sh", "running")
        wait_for(lambda: "running" not in read(os.path.join(pool, "results", "ok.sh", "status")),
                 10, what="ok.sh done")
        os.unlink(os.path.join(pool, "jobs", "long.sh"))
        self.wait_job_state(pool, "long.sh", "cancelled")
        self.submit(pool, "bad.sh", "sleep 0.4; exit 3\n")
        self.submit(pool, HOSTILE, "sleep 0.3\n")
        self.assertWait(pool, "bad.sh", 3)
        self.assertWait(pool, HOSTILE, 0)
        data, root = self.timeline(pool)
        text = data.decode()
        w, h = int(root.get("width")), int(root.get("height"))
        self.assertEqual(root.get("viewBox"), "0 0 %d %d" % (w, h))
        self.assertEqual(texts(root, "title"), ["pool t: ready"])
        self.assertEqual(texts(root, "row"), ["node-0", "slot 0", "slot 1"])
        # one bar per job, by outcome
        b = bars(root)
        self.assertEqual(sorted(b), sorted(["ok.sh", "long.sh", "bad.sh", HOSTILE]))
        for name, outcome, code in (("ok.sh", "succeeded", 0), ("bad.sh", "failed", 3),
                                    ("long.sh", "cancelled", 143), (HOSTILE, "succeeded", 0)):
            self.assertEqual(len(b[name]), 1, name)
            got, fill, _, lines = b[name][0]
            self.assertEqual((got, fill), (outcome, COLOURS[outcome]), name)
            self.assertRegex(lines[1], r"^node-0 slot [01]$")
            self.assertIn("exit %d" % code, lines)
            self.assertTrue(any(re.match(r"duration \d+\.\d{3} s$", ln) for ln in lines), lines)
        # ok.sh and long.sh ran side by side, one per slot
        self.assertEqual({b["ok.sh"][0][3][1], b["long.sh"][0][3][1]},
                         {"node-0 slot 0", "node-0 slot 1"})
        # the hostile name is escaped, and comes back whole from the parser
        self.assertIn("a&amp;b&lt;c&gt;&quot;d&apos;.sh", text)
        self.assertNotIn("<c>", text)
        # the cost as `cost` shows it
        cost = kv_lines(read(os.path.join(pool, "cost")))
        line = texts(root, "cost")[0]
        self.assertIn("rate_usd_per_hour: %s" % cost["rate_usd_per_hour"], line)
        self.assertRegex(line, r"accrued_usd: \d+\.\d{6}")
        # the node's spans, the time axis and the legend
        classes = [c for c, _ in spans(root)]
        self.assertIn("span provisioning", classes)
        self.assertIn("span up", classes)
        self.assertTrue(all(t.startswith("node-0: ") for _, t in spans(root)), spans(root))
        ticks = texts(root, "tick")
        self.assertGreaterEqual(len(ticks), 2, ticks)
        self.assertTrue(all(re.match(r"^\d\d:\d\d:\d\d(\.\d)?$", t) for t in ticks), ticks)
        legend = [r.get("class") for g in root.iter(NS + "g") if g.get("class") == "legend"
                  for r in g.iter(NS + "rect")]
        for outcome in COLOURS:
            self.assertIn("bar " + outcome, legend)
        self.assertRaises(OSError, write, os.path.join(pool, "timeline.svg"), "x")
        if not CHROMIUM:
            self.skipTest("no chromium to draw it (scripts/deps.sh installs it)")
        self.check_in_browser(data, [(b["ok.sh"][0][2], COLOURS["succeeded"]),
                                     (b["bad.sh"][0][2], COLOURS["failed"])])

    def test_broadcast_stopped_pool_and_remount(self):
        pool = self.make_pool("b", "nodes = 2\nlifetime = 2\n")
        self.submit(pool, "all.sh", "sleep 0.2\n", broadcast=True)
        self.assertWait(pool, "all.sh", 0)
        self.wait_state(pool, "stopped", 10)
        _, root = self.timeline(pool)
        self.assertEqual(texts(root, "title"), ["pool b: stopped"])
        b = bars(root)
        self.assertEqual(list(b), ["all.sh"])
        self.assertEqual(sorted(bar[3][1] for bar in b["all.sh"]),
                         ["node-0 slot 0 (broadcast)", "node-1 slot 0 (broadcast)"])
        self.assertEqual({bar[0] for bar in b["all.sh"]}, {"succeeded"})
        # the nodes are gone, their history is not
        got = {(c, t.split(":")[0]) for c, t in spans(root)}
        for node in ("node-0", "node-1"):
            for kind in ("provisioning", "up", "teardown"):
                self.assertIn(("span " + kind, node), got)
        self.assertEqual([ln for ln in root.iter(NS + "line") if ln.get("class") == "now"], [])
        before_spans = spans(root)
        created = kv_lines(read(os.path.join(pool, "status")))["created"]
        # after a remount, the job where its record says it ran, the nodes'
        # spans as they were, and the pool's created time
        self.daemon.stop()
        self.daemon = self.start_daemon()
        _, root = self.timeline(pool)
        self.assertEqual(spans(root), before_spans)
        self.assertEqual(kv_lines(read(os.path.join(pool, "status")))["created"], created)
        b = bars(root)
        self.assertEqual(sorted(bar[3][1] for bar in b["all.sh"]),
                         ["node-0 slot 0 (broadcast)", "node-1 slot 0 (broadcast)"])
        self.assertEqual({bar[0] for bar in b["all.sh"]}, {"succeeded"})
        self.assertNotIn("earlier (node not kept)", texts(root, "row"))
        # a spans file grown long (a pool that had thousands of machines) is
        # rewritten at load with the spans kept, the latest: the real ones
        self.daemon.stop()
        path = os.path.join(self.state, "pools", "b", "spans")
        real = read(path)
        t = float(real.split()[0]) - 5000
        write(path, "".join("%.3f launch node-7\n%.3f ready node-7\n%.3f down node-7\n"
                            % (t + i, t + i + 0.2, t + i + 0.5) for i in range(1100)) + real)
        self.daemon = self.start_daemon()
        _, root = self.timeline(pool)
        got = spans(root)
        self.assertLessEqual(len(read(path).splitlines()), 6 * 256)
        self.assertEqual([sp for sp in before_spans if sp not in got], [])
        self.assertTrue(("span up", "node-7: up, 0.3 s") in got, got[:8])
        # and the rewritten file loads the same
        self.daemon.stop()
        self.daemon = self.start_daemon()
        self.assertEqual(spans(self.timeline(pool)[1]), got)
        # a record written before skyfs kept where tasks ran: the earlier row
        self.daemon.stop()
        meta = os.path.join(self.state, "pools", "b", "results", "all.sh", ".job")
        self.assertIn("task=node-1 0 ", read(meta))
        write(meta, "".join(ln + "\n" for ln in read(meta).splitlines()
                            if not ln.startswith("task=")))
        self.daemon = self.start_daemon()
        _, root = self.timeline(pool)
        b = bars(root)
        self.assertEqual(len(b["all.sh"]), 1)
        self.assertEqual(b["all.sh"][0][0], "succeeded")
        self.assertIn("earlier (node not kept)", texts(root, "row"))

    def test_empty_pool_and_many_jobs(self):
        pool = self.pool_path("e")
        os.mkdir(pool)
        _, root = self.timeline(pool)
        self.assertEqual(texts(root, "title"), ["pool e: empty"])
        self.assertEqual(bars(root), {})
        self.assertIn("no nodes and no jobs yet", texts(root))
        write(os.path.join(pool, "spec"), "slots = 64\n")
        self.wait_state(pool, "ready")
        n = MAX_BARS + 40
        for i in range(n):
            write(os.path.join(pool, "jobs", "j%03d" % i), "")
        done = os.path.join(pool, "done")
        wait_for(lambda: read(done).count("\n") == n, 30, what="%d jobs done" % n)
        data, root = self.timeline(pool)
        b = bars(root)
        self.assertEqual(sum(len(v) for v in b.values()), MAX_BARS)
        self.assertIn("j%03d" % (n - 1), b)
        self.assertIn("40 job bar(s) omitted: only the latest %d are drawn" % MAX_BARS,
                      texts(root, "note"))
        self.assertLess(len(data), MAX_BARS * 700)
        rows = texts(root, "row")
        self.assertEqual(len(rows), 65)
