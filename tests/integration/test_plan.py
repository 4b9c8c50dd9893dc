"""The catalog and the plan through the mount: catalog/accelerators,
catalog/offers (snapshot and live rows, staleness), providers/<name>/status,
dry_run plans and how allocation, max_price, region, sections and accelerator
families shape them, the walk down the plan with fallback (aws fails, local
is used), a spec whose every candidate fails, and an unknown accelerator.

The shipped snapshots (aws, runpod, lambda) are dated 2025-07-01; their
rows are stale under the default catalog_max_age (30 days) once that is
more than 30 days ago."""

import calendar
import errno
import os
import re
import time

from harness import SkyfsTestCase, errno_of, kv_lines, read, state, wait_for, write

SNAPSHOT_DATE = "2025-07-01"
SNAPSHOT_EPOCH = calendar.timegm(time.strptime(SNAPSHOT_DATE, "%Y-%m-%d"))
DEFAULT_MAX_AGE_S = 30 * 86400

FAKE_4_A100_80GB = (
    "#!/bin/sh\n"
    "[ \"$1\" = \"-L\" ] || exit 1\n"
    "echo 'GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-aaaa)'\n"
    "echo 'GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-bbbb)'\n"
    "echo 'GPU 2: NVIDIA A100-SXM4-80GB (UUID: GPU-cccc)'\n"
    "echo 'GPU 3: NVIDIA A100-SXM4-80GB (UUID: GPU-dddd)'\n")

# rank provider region offer accelerator market usd/node-h usd/h alternative
# source status; the offer (RunPod's gpuTypeId) may hold blanks
PLAN_ROW = re.compile(r"^(\d+)\s+(\S+)\s+(\S+)\s+(.+?)\s+(\S+ x\d+|none)\s+(spot|on-demand)\s+"
                      r"([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\S+)[ \t]*(.*)$")
# provider instance_type region accelerator count vcpus memory_gb market
# usd_per_hour source age
OFFER_ROW = re.compile(r"^(\S+)\s+(.+?)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+"
                       r"(spot|on-demand)\s+([\d.]+)\s+(snapshot|live)\s+(.*)$")


def parse_plan(text):
    """(header line, rows as dicts, tried lines) of a plan text."""
    lines = text.splitlines()
    assert lines and lines[0].startswith("plan: "), text
    assert lines[1].split()[:3] == ["rank", "provider", "region"], text
    rows, tried = [], []
    in_tried = False
    for ln in lines[2:]:
        if ln == "tried:":
            in_tried = True
            continue
        if not ln.strip():
            continue
        if in_tried:
            tried.append(ln)
            continue
        m = PLAN_ROW.match(ln)
        assert m, "unparsable plan row %r in\n%s" % (ln, text)
        g = m.groups()
        rows.append({"rank": int(g[0]), "provider": g[1], "region": g[2], "offer": g[3],
                     "accelerator": g[4], "market": g[5], "node_h": float(g[6]),
                     "pool_h": float(g[7]), "alternative": g[8], "source": g[9],
                     "status": g[10].strip(), "line": ln})
    return lines[0], rows, tried


def parse_offers(text):
    lines = text.splitlines()
    assert lines[0].split() == ["provider", "instance_type", "region", "accelerator", "count",
                                "vcpus", "memory_gb", "market", "usd_per_hour", "source",
                                "age"], lines[0]
    rows = []
    for ln in lines[1:]:
        m = OFFER_ROW.match(ln)
        assert m, "unparsable offer row %r" % ln
        g = m.groups()
        rows.append({"provider": g[0], "instance_type": g[1], "region": g[2],
                     "accelerator": g[3], "count": int(g[4]), "market": g[7],
                     "price": float(g[8]), "source": g[9], "age": g[10].strip(), "line": ln})
    return rows


class PlanCase(SkyfsTestCase):
    def dry_run(self, name, spec, want_state="planned"):
        """A pool for spec (dry_run = true added); returns its parsed plan."""
        pool = self.make_pool(name, "dry_run = true\n" + spec, want_state, timeout=5)
        return parse_plan(read(os.path.join(pool, "plan")))

    def assertSorted(self, rows, what):
        prices = [r["node_h"] for r in rows]
        self.assertEqual(prices, sorted(prices), "%s not sorted by usd/node-h:\n%s"
                         % (what, "\n".join(r["line"] for r in rows)))

    def assertRanks(self, rows):
        self.assertEqual([r["rank"] for r in rows], list(range(1, len(rows) + 1)))


class Catalog(PlanCase):
    def test_accelerators(self):
        text = read(os.path.join(self.mnt, "catalog", "accelerators"))
        lines = text.splitlines()
        self.assertEqual(lines[0].split(), ["name", "family", "vendor", "memory_gb", "aliases"])
        rows = {}
        for ln in lines[1:]:
            f = ln.split(None, 4)
            rows[f[0]] = f
        want = {"A100": ("A100", "NVIDIA", "40"), "A100-80GB": ("A100", "NVIDIA", "80"),
                "H100": ("H100", "NVIDIA", "80"), "H100-NVL": ("H100", "NVIDIA", "94"),
                "MI300X": ("MI300X", "AMD", "192")}
        for name, (family, vendor, mem) in want.items():
            self.assertIn(name, rows, text)
            self.assertEqual(tuple(rows[name][1:4]), (family, vendor, mem), rows[name])
        self.assertIn("A100-SXM4-80GB", rows["A100-80GB"][4])
        self.assertErrno(errno.EACCES, write, os.path.join(self.mnt, "catalog", "accelerators"),
                         "x\n")

    def test_offers_and_staleness(self):
        # a pool that names local makes the local machine's live offers known
        self.dry_run("loc", "provider = local\n")
        rows = parse_offers(read(os.path.join(self.mnt, "catalog", "offers")))
        by = {}
        for r in rows:
            by.setdefault(r["provider"], []).append(r)
        for prov in ("aws", "runpod", "lambda"):
            self.assertIn(prov, by)
            self.assertTrue(all(r["source"] == "snapshot" for r in by[prov]), prov)
        self.assertIn("local", by)
        self.assertTrue(all(r["source"] == "live" for r in by["local"]), by["local"])
        self.assertTrue(any(r["accelerator"] == "none" for r in by["local"]))
        self.assertTrue(all(r["price"] == 0 for r in by["local"]))
        # both markets in the snapshots; lambda has no spot market
        self.assertEqual({r["market"] for r in by["aws"]}, {"spot", "on-demand"})
        self.assertEqual({r["market"] for r in by["lambda"]}, {"on-demand"})
        # ages: a number and a unit; snapshots stale by default, live rows never
        expect_stale = time.time() - SNAPSHOT_EPOCH > DEFAULT_MAX_AGE_S
        for r in rows:
            self.assertRegex(r["age"], r"^\d+[smhd]( stale)?$", r["line"])
            if r["source"] == "live":
                self.assertNotIn("stale", r["age"], r["line"])
            else:
                self.assertEqual("stale" in r["age"], expect_stale, r["line"])
        # and so in plan
        _, prow, _ = self.dry_run("aws", "provider = aws\naccelerator = H100:8\n")
        self.assertTrue(prow)
        for r in prow:
            self.assertEqual(r["source"], "snapshot,stale" if expect_stale else "snapshot",
                             r["line"])
        st = kv_lines(read(os.path.join(self.mnt, "providers", "aws", "status")))
        self.assertEqual(int(st["offers_stale"]),
                         int(st["offers_snapshot"]) if expect_stale else 0)

    def test_local_offers_known_at_mount(self):
        # README: catalog/offers is every known offer, the local provider's
        # always live; no pool should be needed for the machine to be listed
        rows = parse_offers(read(os.path.join(self.mnt, "catalog", "offers")))
        local = [r for r in rows if r["provider"] == "local"]
        self.assertTrue(local, "no local row in catalog/offers before any pool named local")
        st = kv_lines(read(os.path.join(self.mnt, "providers", "local", "status")))
        self.assertGreaterEqual(int(st["offers"]), 1, st)


class CatalogMaxAge(PlanCase):
    daemon_args = ("-o", "catalog_max_age=100000d")

    def test_nothing_stale(self):
        rows = parse_offers(read(os.path.join(self.mnt, "catalog", "offers")))
        snap = [r for r in rows if r["source"] == "snapshot"]
        self.assertTrue(snap)
        self.assertEqual([r["line"] for r in rows if "stale" in r["age"]], [])
        _, prow, _ = self.dry_run("p", "provider = aws, runpod, lambda\n"
                                  "accelerator = A100-80GB:8\n")
        self.assertTrue(prow)
        self.assertEqual({r["source"] for r in prow}, {"snapshot"})
        for prov in ("aws", "runpod", "lambda"):
            st = kv_lines(read(os.path.join(self.mnt, "providers", prov, "status")))
            self.assertEqual(st["offers_stale"], "0", st)


class Providers(PlanCase):
    def test_listing_and_status(self):
        provs = os.path.join(self.mnt, "providers")
        self.assertEqual(sorted(os.listdir(provs)),
                         ["aws", "container", "lambda", "local", "runpod", "slurm", "ssh",
                          "vastai"])
        # local offers are live: a pool naming local makes them known
        self.dry_run("loc", "provider = local\n")
        text = read(os.path.join(provs, "local", "status"))
        st = kv_lines(text)
        self.assertEqual(st["name"], "local")
        self.assertEqual(st["implemented"], "yes")
        self.assertTrue(st["configured"].startswith("yes"), st)
        self.assertGreaterEqual(int(st["offers"]), 1, text)
        self.assertGreaterEqual(int(st["offers_live"]), 1, text)
        self.assertEqual(st["last_error"], "none")
        self.assertNotIn("snapshot", st)

        # aws is implemented; without credentials it says where it looked
        st = kv_lines(read(os.path.join(provs, "aws", "status")))
        self.assertEqual(st["implemented"], "yes")
        self.assertTrue(st["configured"].startswith("no (no AWS credentials"), st)
        self.assertIn("no-aws-credentials", st["configured"])
        self.assertEqual(st["usable"], "no")
        self.assertEqual(st["snapshot"], SNAPSHOT_DATE)
        self.assertGreater(int(st["offers_snapshot"]), 0)
        self.assertEqual(st["offers_live"], "0")
        # the GPU clouds too; the harness gives the daemon no API keys
        for prov in ("lambda", "runpod"):
            st = kv_lines(read(os.path.join(provs, prov, "status")))
            self.assertEqual(st["implemented"], "yes")
            self.assertTrue(st["configured"].startswith("no ("), st)
            self.assertEqual(st["usable"], "no")
            self.assertEqual(st["snapshot"], SNAPSHOT_DATE)

        text = read(os.path.join(provs, "vastai", "status"))
        st = kv_lines(text)
        self.assertEqual(st["implemented"], "yes")
        self.assertTrue(st["configured"].startswith("no ("), st)
        self.assertIn("live offers only", st["snapshot"])
        self.assertEqual(st["offers_snapshot"], "0")
        # never a credential-looking line
        for prov in os.listdir(provs):
            t = read(os.path.join(provs, prov, "status")).lower()
            self.assertNotIn("secret", t)
            self.assertNotIn("token", t)

        self.assertErrno(errno.ENOENT, os.stat, os.path.join(provs, "nope"))
        self.assertErrno(errno.ENOENT, os.listdir, os.path.join(provs, "nope"))
        self.assertErrno(errno.ENOENT, read, os.path.join(provs, "nope", "status"))
        self.assertErrno(errno.ENOENT, read, os.path.join(provs, "aws", "nope"))
        self.assertIsNotNone(self._errno(os.mkdir, os.path.join(provs, "azure")))
        self.assertErrno(errno.EACCES, write, os.path.join(provs, "aws", "status"), "x\n")

    @staticmethod
    def _errno(fn, *a):
        try:
            fn(*a)
        except OSError as e:
            return e.errno
        return None


BASE = "provider = aws, runpod, lambda\naccelerator = A100-80GB:8\nnodes = 2\n"


class DryRun(PlanCase):
    def test_dry_run_plan(self):
        pool = self.pool_path("d")
        head, rows, tried = self.dry_run("d", BASE)
        self.assertEqual(state(pool), "planned")
        self.assertRegex(head, r"^plan: %d candidates for 2 nodes, ranked " % len(rows))
        self.assertTrue(rows)
        self.assertEqual(tried, [])
        self.assertRanks(rows)
        self.assertEqual({r["provider"] for r in rows}, {"aws", "runpod", "lambda"})
        for r in rows:
            self.assertEqual(r["accelerator"], "A100-80GB x8", r["line"])
            self.assertEqual(r["status"], "", r["line"])
            self.assertEqual(r["alternative"], "-", r["line"])
            self.assertAlmostEqual(r["pool_h"], 2 * r["node_h"], delta=0.0002, msg=r["line"])
        # spot-if-available: every spot row before every on-demand row, each
        # tier by price
        markets = [r["market"] for r in rows]
        self.assertIn("spot", markets)
        self.assertIn("on-demand", markets)
        first_od = markets.index("on-demand")
        self.assertEqual(markets[first_od:], ["on-demand"] * (len(rows) - first_od), markets)
        self.assertSorted(rows[:first_od], "spot tier")
        self.assertSorted(rows[first_od:], "on-demand tier")
        # p4d is A100 (40 GB): not an A100-80GB offer
        self.assertFalse([r for r in rows if r["offer"].startswith("p4d.")])
        self.assertTrue([r for r in rows if r["offer"].startswith("p4de.")])
        # nothing was paid for, and the events say so
        self.assertEqual(float(kv_lines(read(os.path.join(pool, "cost")))["rate_usd_per_hour"]),
                         0)
        events = read(os.path.join(pool, "events"))
        self.assertIn("dry run", events)
        self.assertIn("nothing provisioned", events)
        self.assertNotIn("trying", events)
        st = kv_lines(read(os.path.join(pool, "status")))
        self.assertEqual(st["nodes_ready"], "0")
        self.assertEqual(st["candidates"], str(len(rows)))
        # a planned pool takes a new spec, and is planned again
        write(os.path.join(pool, "spec"), "dry_run = true\nprovider = aws\n"
              "accelerator = A100-80GB:8\n")
        self.wait_state(pool, "planned")
        _, rows2, _ = parse_plan(read(os.path.join(pool, "plan")))
        self.assertTrue(rows2)
        self.assertEqual({r["provider"] for r in rows2}, {"aws"})

    def test_dry_run_provisions_nothing(self):
        # README: planned = "plan written, nothing provisioned": no node
        # should be listed (not even one stuck in "provisioning")
        pool = self.pool_path("d")
        self.dry_run("d", BASE)
        nodes = os.listdir(os.path.join(pool, "nodes"))
        self.assertEqual(nodes, [], "a dry run lists nodes: %s" % "; ".join(
            "%s: %s" % (n, read(os.path.join(pool, "nodes", n)).splitlines()[0])
            for n in nodes))

    def test_allocation(self):
        _, od, _ = self.dry_run("od", BASE + "allocation = on-demand\n")
        self.assertTrue(od)
        self.assertEqual({r["market"] for r in od}, {"on-demand"})
        self.assertSorted(od, "on-demand")
        _, spot, _ = self.dry_run("sp", BASE + "allocation = spot\n")
        self.assertTrue(spot)
        self.assertEqual({r["market"] for r in spot}, {"spot"})
        self.assertSorted(spot, "spot")
        # lambda has no spot market, so no lambda row
        self.assertNotIn("lambda", {r["provider"] for r in spot})
        _, cheap, _ = self.dry_run("ch", BASE + "allocation = cheapest\n")
        self.assertEqual(len(cheap), len(od) + len(spot))
        self.assertSorted(cheap, "cheapest")
        markets = [r["market"] for r in cheap]
        # mixed: some on-demand row is cheaper than some spot row
        self.assertLess(markets.index("on-demand"), len(markets) - 1 - markets[::-1].index("spot"),
                        markets)
        _, default, _ = self.dry_run("df", BASE)
        self.assertEqual(sorted(r["line"].split(None, 1)[1] for r in default),
                         sorted(r["line"].split(None, 1)[1] for r in cheap))

    def test_max_price_and_region(self):
        _, every, _ = self.dry_run("all", BASE)
        cap = 14.0
        _, capped, _ = self.dry_run("cap", BASE + "max_price = %g\n" % cap)
        self.assertTrue(capped)
        self.assertTrue(all(r["node_h"] <= cap for r in capped), capped)
        key = lambda r: (r["provider"], r["region"], r["offer"], r["market"])
        self.assertEqual(sorted(map(key, capped)),
                         sorted(key(r) for r in every if r["node_h"] <= cap))
        self.assertLess(len(capped), len(every))
        _, us, _ = self.dry_run("us", BASE + "region = us-\n")
        self.assertTrue(us)
        self.assertTrue(all(r["region"].startswith("us-") for r in us), us)
        self.assertEqual(sorted(map(key, us)),
                         sorted(key(r) for r in every if r["region"].startswith("us-")))
        self.assertNotIn("runpod", {r["provider"] for r in us})
        _, exact, _ = self.dry_run("use1", BASE + "region = us-east-1\n")
        self.assertTrue(exact)
        self.assertEqual({r["region"] for r in exact}, {"us-east-1"})
        # nothing under the cap: planned with an empty plan
        head, none, _ = self.dry_run("tiny", BASE + "max_price = 0.01\n")
        self.assertEqual(none, [])
        self.assertTrue(head.startswith("plan: 0 candidates"), head)

    def test_sections(self):
        pool = self.pool_path("sec")
        _, rows, _ = self.dry_run("sec", "nodes = 1\n[aws8]\nprovider = aws\n"
                                  "accelerator = A100:8\n[lam]\nprovider = lambda\n"
                                  "accelerator = H100:8\n")
        alts = {r["alternative"] for r in rows}
        self.assertEqual(alts, {"aws8", "lam"})
        for r in rows:
            if r["alternative"] == "aws8":
                self.assertEqual(r["provider"], "aws", r["line"])
                self.assertIn(r["accelerator"], ("A100 x8", "A100-80GB x8"), r["line"])
            else:
                self.assertEqual(r["provider"], "lambda", r["line"])
                self.assertEqual(r["accelerator"], "H100 x8", r["line"])
        # ranked together: by tier, then price, whatever the alternative
        markets = [r["market"] for r in rows]
        first_od = markets.index("on-demand")
        self.assertSorted(rows[:first_od], "spot tier")
        self.assertSorted(rows[first_od:], "on-demand tier")
        self.assertEqual(kv_lines(read(os.path.join(pool, "status")))["alternatives"], "2")

    def test_json_sections(self):
        pool = self.make_pool("js", '{"dry_run": true, "nodes": 2,\n'
                              ' "a": {"provider": "lambda", "accelerator": "A100-80GB:8"},\n'
                              ' "b": {"provider": "runpod", "accelerator": "A100-80GB:8",'
                              ' "allocation": "spot"}}\n', "planned", timeout=5)
        _, rows, _ = parse_plan(read(os.path.join(pool, "plan")))
        self.assertEqual({(r["alternative"], r["provider"]) for r in rows},
                         {("a", "lambda"), ("b", "runpod")})
        self.assertEqual({r["market"] for r in rows if r["alternative"] == "b"}, {"spot"})
        for r in rows:
            self.assertAlmostEqual(r["pool_h"], 2 * r["node_h"], delta=0.0002, msg=r["line"])

    def test_family_and_variant(self):
        _, fam, _ = self.dry_run("fam", "provider = aws\naccelerator = A100:8\n")
        offers = {r["offer"] for r in fam}
        self.assertIn("p4d.24xlarge", offers)
        self.assertIn("p4de.24xlarge", offers)
        self.assertEqual({r["accelerator"] for r in fam}, {"A100 x8", "A100-80GB x8"})
        _, var, _ = self.dry_run("var", "provider = aws\naccelerator = A100-80GB:8\n")
        self.assertEqual({r["offer"] for r in var}, {"p4de.24xlarge"})
        # an alias means its variant
        _, alias, _ = self.dry_run("alias", "provider = aws\naccelerator = a100-80gb:8\n")
        self.assertEqual([r["line"].split(None, 1)[1] for r in alias],
                         [r["line"].split(None, 1)[1] for r in var])
        # COUNT must equal the offer's: no 4-GPU p4de
        _, four, _ = self.dry_run("four", "provider = aws\naccelerator = A100-80GB:4\n")
        self.assertEqual(four, [])


class Walk(PlanCase):
    autostart = False

    def start_with_fake(self, script):
        bindir = os.path.join(self.tmp, "fakebin")
        os.makedirs(bindir, exist_ok=True)
        write(os.path.join(bindir, "nvidia-smi"), script, mode=0o755)
        self.daemon = self.start_daemon(env={"PATH": bindir + ":" + os.environ["PATH"]})

    def test_fallback_to_local(self):
        self.start_with_fake(FAKE_4_A100_80GB)
        pool = self.make_pool("fb", "nodes = 1\n"
                              "[cloud]\nprovider = aws\naccelerator = A100-80GB:8\n"
                              "[here]\nprovider = local\naccelerator = A100-80GB:4\n",
                              ("ready", "failed", "degraded"), timeout=5)
        status = read(os.path.join(pool, "status"))
        self.assertEqual(state(pool), "ready", status)
        _, rows, tried = parse_plan(read(os.path.join(pool, "plan")))
        in_use = [r for r in rows if r["status"] == "in use"]
        self.assertEqual(len(in_use), 1, rows)
        used = in_use[0]
        self.assertEqual((used["provider"], used["alternative"], used["market"]),
                         ("local", "here", "on-demand"))
        self.assertEqual(used["node_h"], 0)
        self.assertEqual(used["accelerator"], "A100-80GB x4")
        # before it: every aws spot row, tried and failed; after it: aws
        # on-demand, untried (local costs 0, so it ranks first among on-demand)
        before = rows[:rows.index(used)]
        after = rows[rows.index(used) + 1:]
        self.assertTrue(before)
        for r in before:
            self.assertEqual((r["provider"], r["market"], r["status"]),
                             ("aws", "spot", "failed"), r["line"])
        spot_aws = [r for r in rows if r["provider"] == "aws" and r["market"] == "spot"]
        self.assertEqual(before, spot_aws)
        self.assertTrue(after)
        for r in after:
            self.assertEqual((r["provider"], r["market"], r["status"]),
                             ("aws", "on-demand", ""), r["line"])
        # tried: each failed row with its reason, then the one in use
        self.assertEqual(len(tried), len(before) + 1, tried)
        # aws has no credentials here: its first candidate says so, the
        # others are skipped for the same reason, without another attempt
        for i, (r, t) in enumerate(zip(before, tried)):
            self.assertTrue(t.startswith("%d aws %s %s spot: " % (r["rank"], r["offer"],
                                                                  r["region"])), t)
            self.assertIn("no AWS credentials", t)
            if i:
                self.assertIn("skipped: aws is unusable", t)
        self.assertRegex(tried[-1], r"^%d local .* in use$" % used["rank"])
        events = read(os.path.join(pool, "events"))
        self.assertEqual(events.count("trying aws"), 1, events)
        self.assertIn("trying local", events)
        st = kv_lines(status)
        self.assertEqual(st["provider"], "local")
        self.assertEqual(st["nodes_ready"], "1")
        node = kv_lines(read(os.path.join(pool, "nodes", "node-0")))
        self.assertEqual(node["provider"], "local")
        self.assertEqual(node["market"], "on-demand")
        self.assertEqual(node["devices"], "0,1,2,3")
        # the pool costs what local costs: nothing
        cost = kv_lines(read(os.path.join(pool, "cost")))
        self.assertEqual(float(cost["rate_usd_per_hour"]), 0)
        self.assertEqual(float(cost["accrued_usd"]), 0)
        # a job gets the node's 4 devices
        self.submit(pool, "gpus", 'echo "$CUDA_VISIBLE_DEVICES"\n')
        self.assertWait(pool, "gpus", 0)
        devs = read(os.path.join(pool, "results", "gpus", "stdout")).strip().split(",")
        self.assertEqual(sorted(devs), ["0", "1", "2", "3"])

    def test_every_candidate_fails(self):
        self.start_with_fake(FAKE_4_A100_80GB)
        pool = self.make_pool("af", "provider = aws\naccelerator = H100:8\n",
                              ("failed", "ready"), timeout=5)
        status = read(os.path.join(pool, "status"))
        self.assertEqual(state(pool), "failed", status)
        err = [ln for ln in status.splitlines() if ln.startswith("error:")]
        self.assertEqual(len(err), 1, status)
        self.assertIn("every candidate failed", err[0])
        self.assertIn("no AWS credentials", err[0])
        _, rows, tried = parse_plan(read(os.path.join(pool, "plan")))
        self.assertTrue(rows)
        self.assertEqual({r["status"] for r in rows}, {"failed"}, rows)
        self.assertEqual(len(tried), len(rows))
        for r, t in zip(rows, tried):
            self.assertTrue(t.startswith("%d aws %s %s %s: " % (r["rank"], r["offer"],
                                                               r["region"], r["market"])), t)
            self.assertIn("no AWS credentials", t)
        self.assertEqual(float(kv_lines(read(os.path.join(pool, "cost")))["rate_usd_per_hour"]),
                         0)
        # a failed pool takes a new spec
        write(os.path.join(pool, "spec"), "provider = local\n")
        self.wait_state(pool, "ready", timeout=5)

    def test_no_offer_matches(self):
        self.start_with_fake(FAKE_4_A100_80GB)
        pool = self.make_pool("nm", "provider = aws, local\naccelerator = MI300X:8\n",
                              ("failed", "ready"), timeout=5)
        self.assertEqual(state(pool), "failed")
        err = [ln for ln in read(os.path.join(pool, "status")).splitlines()
               if ln.startswith("error:")]
        self.assertEqual(len(err), 1)
        self.assertIn("no offer matches", err[0])
        self.assertIn("MI300X", err[0])
        # what local has is named
        self.assertIn("A100-80GB x4", err[0])
        head, rows, _ = parse_plan(read(os.path.join(pool, "plan")))
        self.assertEqual(rows, [])


class UnknownAccelerator(PlanCase):
    def test_refused_with_suggestion(self):
        pool = self.make_pool("ua")
        spec = os.path.join(pool, "spec")
        self.assertEqual(errno_of(write, spec, "accelerator = A100-80G\n"), errno.EINVAL)
        self.assertEqual(state(pool), "invalid")
        status = read(os.path.join(pool, "status"))
        err = [ln for ln in status.splitlines() if ln.startswith("error: ")]
        self.assertEqual(len(err), 1, status)
        self.assertTrue(err[0].startswith('error: line 1: unknown accelerator "A100-80G" '
                                          '(did you mean A100-80GB'), err[0])
        self.assertIn('unknown accelerator "A100-80G"', read(os.path.join(pool, "events")))
        self.assertEqual(read(spec), "")
        self.assertEqual(os.listdir(os.path.join(pool, "nodes")), [])
        self.assertTrue(read(os.path.join(pool, "plan")).startswith("no plan"))
        # in a section, with the section's line
        self.assertEqual(errno_of(write, spec, "nodes = 1\n[a]\nprovider = aws\n"
                                    "accelerator = H10:8\n"), errno.EINVAL)
        err = [ln for ln in read(os.path.join(pool, "status")).splitlines()
               if ln.startswith("error: ")]
        self.assertTrue(err[0].startswith('error: line 4: unknown accelerator "H10" '
                                          '(did you mean H100'), err[0])
        # other refusals of the new keys reach status the same way
        for text, needle in (("allocation = sometimes\n", "allocation"),
                             ("max_price = -1\n", "max_price"),
                             ("provider = aws, aws\n", "listed twice"),
                             ("[a]\nnodes = 2\n", "applies to the whole pool")):
            self.assertEqual(errno_of(write, spec, text), errno.EINVAL, text)
            self.assertIn(needle, read(os.path.join(pool, "status")))
        self.assertEqual(state(pool), "invalid")
