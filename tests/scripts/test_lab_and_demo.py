"""scripts/lab and scripts/demo as a newcomer runs them: up, status, exec,
down, a failure half way, and the demo twice then `down`, each leaving
nothing behind. Needs root; skips (exit 77) otherwise.

VNET_BUILD_DIR names the build with vnet-controller and vnet-agent.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "agent", "lab"))
import vnetlab  # noqa: E402

LAB = os.path.join(ROOT, "scripts", "lab")


def run(*args, env=None, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=600)
    if check and r.returncode != 0:
        raise AssertionError(f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def namespaces_with(prefix):
    return [n for n in run("ip", "netns", "list").stdout.split() if n.startswith(prefix)]


class LabTool(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vnet-lab-")
        self.prefix = f"vlt{os.getpid() % 10000}"
        self.state = ["--state", os.path.join(self.dir, "state")]

    def tearDown(self):
        run(LAB, *self.state, "down", check=False)
        for ns in namespaces_with(self.prefix + "-"):
            run("ip", "netns", "del", ns, check=False)

    def topology(self, vms_host="h1"):
        path = os.path.join(self.dir, "topology.json")
        with open(path, "w") as f:
            json.dump({"underlay": "shared", "hosts": [
                {"name": "h1", "pa_gateway": "192.168.4.1/24", "mgmt_gateway": "10.97.0.1/24",
                 "mgmt_address": "10.97.0.11/24"},
                {"name": "h2", "pa_gateway": "192.168.4.1/24", "mgmt_gateway": "10.97.0.1/24",
                 "mgmt_address": "10.97.0.22/24"}],
                "vms": [{"name": "vm1", "host": vms_host, "interface": "vm1",
                         "mac": "00:1D:D8:B7:1C:05", "address": "10.0.0.5/24"}]}, f)
        return path

    def test_up_status_exec_down(self):
        out = run(LAB, *self.state, "up", self.topology(), "--prefix", self.prefix).stdout
        self.assertIn("up (2 hosts, 1 VMs)", out)
        self.assertEqual(len(namespaces_with(self.prefix + "-")), 4)  # underlay, 2 hosts, vm
        self.assertIn("vm1", run(LAB, *self.state, "status").stdout)
        eth0 = run(LAB, *self.state, "exec", "vm1", "--", "ip", "-o", "addr", "show",
                   "eth0").stdout
        self.assertIn("10.0.0.5/24", eth0)
        # The shared underlay: host 1 reaches host 2's management address.
        ping = run(LAB, *self.state, "exec", "h1", "--", "ping", "-c", "1", "-W", "2",
                   "10.97.0.22")
        self.assertIn("1 received", ping.stdout)
        # up again replaces the first lab.
        run(LAB, *self.state, "up", self.topology(), "--prefix", self.prefix)
        self.assertEqual(len(namespaces_with(self.prefix + "-")), 4)
        run(LAB, *self.state, "down")
        self.assertEqual(namespaces_with(self.prefix + "-"), [])
        self.assertNotEqual(run(LAB, *self.state, "status", check=False).returncode, 0)

    def test_a_failure_half_way_leaves_nothing(self):
        r = run(LAB, *self.state, "up", self.topology(vms_host="nosuch"), "--prefix",
                self.prefix, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("removing what was made", r.stderr)
        self.assertEqual(namespaces_with(self.prefix + "-"), [])


class Demo(unittest.TestCase):
    def test_twice_then_down(self):
        work = tempfile.mkdtemp(prefix="vnet-demo-")
        with open(os.path.join(ROOT, "lab", "two-hosts.json")) as f:
            topology = json.load(f)
        # Its own management prefix, so it can run beside a user's demo.
        topology["management"] = "198.19.0.1/16"
        for h in topology["hosts"]:
            for key in ("mgmt_gateway", "mgmt_address"):
                h[key] = h[key].replace("198.18.", "198.19.")
        path = os.path.join(work, "topology.json")
        with open(path, "w") as f:
            json.dump(topology, f)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        prefix = f"vdt{os.getpid() % 10000}"
        env = dict(os.environ, VNET_DEMO_VAR=os.path.join(work, "var"),
                   VNET_DEMO_LISTEN=f"127.0.0.1:{port}", VNET_DEMO_PREFIX=prefix,
                   VNET_DEMO_TOPOLOGY=path, VNET_DEMO_BUILD_DIR=os.environ["VNET_BUILD_DIR"])
        demo = os.path.join(ROOT, "scripts", "demo")
        try:
            for attempt in (1, 2):
                out = run(demo, env=env).stdout
                self.assertEqual(out.count("3 received"), 2, out)
                self.assertIn("and 0 to Red's", out)
                self.assertIn("6001             10.0.0.7         192.168.2.20", out)
                self.assertIn("admin token:  vnet_", out)
                # Seed scenario 7: both tenants' 10.0.0.5 through their own addresses.
                self.assertIn("blue1 (10.0.0.5) -> http://203.0.113.1:8000/: hello from "
                              "203.0.113.1; you came from 203.0.113.10", out)
                self.assertIn("the server saw 203.0.113.10", out)
                if attempt == 2:
                    self.assertIn("enrolled already", out)
        finally:
            down = run(demo, "down", env=env, check=False)
        self.assertEqual(down.returncode, 0, down.stdout + down.stderr)
        self.assertEqual(namespaces_with(prefix + "-"), [])
        self.assertNotIn(f"{prefix}-mgmt", run("ip", "-o", "link").stdout)
        self.assertFalse(os.path.exists(os.path.join(work, "var")))
        self.assertEqual(run("pgrep", "-f", os.path.join(work, "var"), check=False).stdout, "")


if __name__ == "__main__":
    vnetlab.skip_unless_root("the lab tool and the demo")
    unittest.main(argv=[sys.argv[0], "-v"])
