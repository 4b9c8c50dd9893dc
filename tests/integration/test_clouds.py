"""One spec naming the four clouds (aws, runpod, vastai, lambda), each
answered by its fake (tests/fakes/): the cheapest live offer across all four
wins, and when the fakes refuse, the pool falls back in price order until
one gives it its node. Needs root and OpenSSH's sshd (the fakes' nodes).
"""

import os
import shutil
import sys
import tempfile
import unittest

from harness import SkyfsTestCase, kv_lines, read, wait_for
import sshnodes
from test_plan import parse_plan

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from fake_ec2 import FakeEC2  # noqa: E402
from fake_lambda import FakeLambda  # noqa: E402
from fake_runpod import FakeRunPod  # noqa: E402
from fake_vastai import FakeVast  # noqa: E402

SPEC = ("provider = aws, runpod, vastai, lambda\naccelerator = A100-80GB:8\n"
        "allocation = on-demand\nssh_user = skytest\n")
LAMBDA_TYPE = "gpu_8x_a100_80gb_sxm4"
RUNPOD_GPU = "NVIDIA A100 80GB PCIe"
VAST_ASK = 201            # the fake's 8 x A100 80 GB machine


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class CloudsTest(SkyfsTestCase):
    autostart = False

    def setUp(self):
        super().setUp()
        work = tempfile.mkdtemp(prefix="skyfs-it-clouds-")
        self.addCleanup(shutil.rmtree, work, True)
        self.fakes = {}
        for name, cls in (("aws", FakeEC2), ("runpod", FakeRunPod), ("vastai", FakeVast),
                          ("lambda", FakeLambda)):
            fake = cls(os.path.join(work, name))
            fake.__enter__()
            self.addCleanup(fake.__exit__, None, None, None)
            self.fakes[name] = fake
        # Lambda has the cheapest 8 x A100 80 GB, with capacity in one region
        lam = self.fakes["lambda"]
        lam.instance_types[LAMBDA_TYPE]["price_cents"] = 800
        lam.instance_types[LAMBDA_TYPE]["regions"] = ["us-east-1"]
        ec2, rp, vast = self.fakes["aws"], self.fakes["runpod"], self.fakes["vastai"]
        self.daemon = self.start_daemon(env=dict(ec2.daemon_env(), **{
            "RUNPOD_API_KEY": rp.api_key,
            "SKYFS_RUNPOD_URL": rp.url,
            "VAST_API_KEY": vast.api_key,
            "SKYFS_VASTAI_URL": vast.url,
            "LAMBDA_API_KEY": lam.api_key,
            "SKYFS_LAMBDA_URL": lam.url,
            "SKYFS_LAMBDA_LAUNCH_INTERVAL_MS": "100",
        }), args=["-o", "api_timeout=2s"])

    def live(self):
        """{provider: live instances} of every fake."""
        f = self.fakes
        return {"aws": f["aws"].live_instances(), "runpod": f["runpod"].live_pods(),
                "vastai": f["vastai"].live_instances(), "lambda": f["lambda"].live_instances()}

    def assertNothingLive(self):
        wait_for(lambda: not any(self.live().values()), 15,
                 what=lambda: "nothing live in the fakes: %s" % self.live())

    def test_cheapest_live_offer_wins(self):
        pool = self.make_pool("cheap", SPEC, "ready", timeout=60)
        _, rows, tried = parse_plan(read(os.path.join(pool, "plan")))
        # every cloud offers the shape, each at its live price
        self.assertEqual({r["provider"] for r in rows}, {"aws", "runpod", "vastai", "lambda"},
                         rows)
        self.assertEqual(rows[0]["provider"], "lambda", rows[0])
        self.assertEqual(rows[0]["status"], "in use", rows[0])
        self.assertEqual(rows[0]["node_h"], 8.0)
        self.assertIn("live", rows[0]["source"])
        self.assertEqual(rows, sorted(rows, key=lambda r: r["node_h"]))
        # a GPU cloud's live answer is all it offers: none of its snapshot
        # rows (a region without capacity now) stays in the plan
        for r in rows:
            if r["provider"] != "aws":
                self.assertEqual(r["source"], "live", r["line"])
        self.assertEqual(len(tried), 1, tried)
        node = kv_lines(read(os.path.join(pool, "nodes", "node-0")))
        self.assertEqual(node["provider"], "lambda")
        live = self.live()
        self.assertEqual(len(live["lambda"]), 1, live)
        self.assertEqual(live["aws"] + live["runpod"] + live["vastai"], [], live)
        self.submit(pool, "hi", "echo hi from $SKY_NODE\n")
        self.assertWait(pool, "hi", 0, timeout=30)
        os.rmdir(pool)
        self.assertNothingLive()

    def test_refusals_fall_back_in_price_order(self):
        self.fakes["lambda"].no_capacity_types = {LAMBDA_TYPE}
        self.fakes["runpod"].supply_constraint_types = {RUNPOD_GPU}
        self.fakes["vastai"].gone_asks = {VAST_ASK}
        pool = self.make_pool("fall", SPEC, "ready", timeout=90)
        _, rows, tried = parse_plan(read(os.path.join(pool, "plan")))
        in_use = [r for r in rows if r["status"] == "in use"]
        self.assertEqual([r["provider"] for r in in_use], ["aws"], rows)
        failed = [r for r in rows if r["status"] == "failed"]
        # each refusing cloud was tried, cheapest first, before aws
        self.assertTrue({"lambda", "runpod", "vastai"} <= {r["provider"] for r in failed},
                        rows)
        walked = failed + in_use
        self.assertEqual([r["rank"] for r in walked], sorted(r["rank"] for r in walked))
        prices = [r["node_h"] for r in walked]
        self.assertEqual(prices, sorted(prices), walked)
        self.assertEqual(rows.index(in_use[0]), len(walked) - 1, rows)
        # each refusal says why, in the cloud's own words
        text = "\n".join(tried)
        self.assertIn("insufficient-capacity", text)
        self.assertIn("SUPPLY_CONSTRAINT", text)
        self.assertIn("no_such_ask", text)
        live = self.live()
        self.assertEqual(len(live["aws"]), 1, live)
        self.assertEqual(live["runpod"] + live["vastai"] + live["lambda"], [], live)
        os.rmdir(pool)
        self.assertNothingLive()
