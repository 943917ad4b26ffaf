#!/usr/bin/env python3
"""vnetctl against a real vnet-controller (temporary data directory, free
ports): every noun and verb, both output formats, and the error paths, with
what lands in the API checked through the API itself."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

BUILD = os.environ.get("VNET_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build/main"))
CONTROLLER = os.environ.get("VNET_CONTROLLER_BINARY", os.path.join(BUILD, "controller/vnet-controller"))
VNETCTL = os.environ.get("VNETCTL_BINARY", os.path.join(BUILD, "controller/vnetctl"))
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Controller:
    def __init__(self, listen="127.0.0.1:0"):
        self.dir = tempfile.mkdtemp(prefix="vnetctl-test-")
        self.log = open(os.path.join(self.dir, "controller.log"), "w+")
        self.proc = subprocess.Popen(
            [CONTROLLER, "--data-dir", self.dir, "--listen", listen,
             "--southbound", "127.0.0.1:0", "--log-level", "info"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            self.log.seek(0)
            m = re.search(r"listening api=(https?)://[^ ]*:(\d+)", self.log.read())
            if m:
                self.url = f"{m.group(1)}://127.0.0.1:{m.group(2)}"
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the controller did not start")
        with open(os.path.join(self.dir, "admin.token")) as f:
            self.admin = f.read().strip()

    def api(self, method, path, body=None, token=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Authorization", f"Bearer {token or self.admin}")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req) as r:
            text = r.read()
            return json.loads(text) if text else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class VnetctlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ctl = Controller()

    @classmethod
    def tearDownClass(cls):
        cls.ctl.stop()

    def run_cli(self, *args, token=None, env=None, expect=0):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("VNET_")}
        environment.update({"VNET_URL": self.ctl.url, "VNET_TOKEN": token or self.ctl.admin})
        environment.update(env or {})
        r = subprocess.run([VNETCTL, *args], capture_output=True, text=True, env=environment, timeout=60)
        self.assertEqual(r.returncode, expect, f"vnetctl {' '.join(args)}\nstdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def json_of(self, *args, **kw):
        return json.loads(self.run_cli(*args, **kw).stdout)

    def test_every_noun_and_verb(self):
        # Admin objects, references given by name.
        ln = self.json_of("logical-network", "create", "--name", "Fabric")
        self.assertTrue(UUID.match(ln["id"]))
        self.assertTrue(ln["network_virtualization"])
        site = self.json_of("site", "create", "--name", "Redmond", "--logical-network", "Fabric",
                            "--subnets", "192.168.10.0/24:10,192.168.11.0/24")
        self.assertEqual(site["subnets"], [{"prefix": "192.168.10.0/24", "vlan": 10},
                                           {"prefix": "192.168.11.0/24", "vlan": 0}])
        pa_pool = self.json_of("ip-pool", "create", "--name", "pa-pool", "--site", "Redmond",
                               "--subnet", "192.168.10.0/24", "--ranges", "192.168.10.20-192.168.10.29")
        internet = self.json_of("logical-network", "create", "--name", "Internet",
                                "--network-virtualization", "false")
        self.json_of("site", "create", "--name", "Edge", "--logical-network", "Internet",
                     "--subnets", "192.168.11.0/24")
        ext_pool = self.json_of("ip-pool", "create", "--name", "external", "--site", "Edge",
                                "--subnet", "192.168.11.0/24", "--ranges", "192.168.11.100-192.168.11.110")
        mac = self.json_of("mac-pool", "create", "--name", "lab", "--start", "02:00:00:00:10:00",
                           "--end", "02:00:00:00:10:ff")
        host = self.json_of("host", "create", "--name", "hv1", "--site", "Redmond",
                            "--external-interface", "eth1")
        self.assertEqual(host["pa"], "192.168.10.20")  # from the site's pool
        # Grants by name: what the tenant's VM networks and gateways may use.
        tenant = self.json_of("tenant", "create", "--name", "Woodgrove", "--logical-network-ids", "Fabric",
                              "--external-pool-ids", "external")
        self.assertEqual(tenant["logical_network_ids"], [ln["id"]])
        self.assertEqual(tenant["external_pool_ids"], [ext_pool["id"]])
        token = self.json_of("token", "create", "--name", "woodgrove-cli", "--tenant", "Woodgrove")
        self.assertTrue(token["token"].startswith("vnet_"))
        self.assertEqual(token["role"], "tenant")

        # The tenant's own objects, with the tenant's token.
        t = token["token"]
        net = self.json_of("vm-network", "create", "--name", "Green", token=t)  # the one grant
        self.assertEqual(net["logical_network_id"], ln["id"])
        self.assertEqual(net["tenant_id"], tenant["id"])
        subnet = self.json_of("vm-subnet", "create", "--vm-network", "Green", "--name", "front",
                              "--prefix", "10.1.0.0/24", token=t)
        self.assertGreaterEqual(subnet["vsid"], 4096)
        pool = self.json_of("ip-pool", "create", "--vm-subnet", "front", "--ranges", "10.1.0.10-10.1.0.50",
                            "--dns", "10.1.0.2,10.1.0.3", token=t)
        self.assertEqual(pool["dns"], ["10.1.0.2", "10.1.0.3"])
        nic = self.json_of("vm-nic", "create", "--vm-subnet", "front", "--vm-name", "app-1", token=t)
        self.assertEqual(nic["ip"], "10.1.0.10")
        # Port profiles (issue 19): the administrator's, read and named by
        # the tenant; static records, the administrator's.
        profile = self.json_of("port-profile", "create", "--name", "appliance",
                               "--allowed-addresses", "10.9.0.0/16,10.8.0.0/16",
                               "--dhcp-guard", "false", "--bandwidth-max-mbps", "500")
        self.assertEqual(profile["allowed_addresses"], ["10.9.0.0/16", "10.8.0.0/16"])
        self.assertEqual((profile["dhcp_guard"], profile["router_guard"]), (False, True))
        names = [p["name"] for p in self.json_of("port-profile", "list", token=t)]
        self.assertIn("Guest Dynamic IP", names)
        self.assertIn("appliance", names)
        self.run_cli("port-profile", "create", "--name", "mine", token=t, expect=1)
        # Not granted to the tenant (it has the built-ins) until the
        # administrator grants it, by name.
        self.run_cli("vm-nic", "update", nic["id"], "--port-profile-id", "appliance", token=t, expect=1)
        granted = self.json_of("tenant", "update", tenant["id"], "--port-profile-ids",
                               "appliance,Guest Dynamic IP", "--default-port-profile-id", "appliance")
        self.assertEqual(granted["port_profile_ids"][0], profile["id"])
        nic = self.json_of("vm-nic", "update", nic["id"], "--port-profile-id", "appliance", token=t)
        self.assertEqual(nic["port_profile_id"], profile["id"])
        record = self.json_of("static-record", "create", "--vsid", str(subnet["vsid"]),
                              "--ca", "10.1.0.200", "--mac", "02:00:00:00:20:00",
                              "--pa", "192.168.10.99")
        self.assertEqual(record["vm_subnet_id"], subnet["id"])
        self.run_cli("static-record", "delete", record["id"])
        gateway = self.json_of("gateway", "create", "--name", "internet", "--vm-network", "Green",
                               "--kind", "nat", "--external-pool-id", ext_pool["id"],
                               "--nat-rules", "tcp:8080=10.1.0.10:80,udp:53=10.1.0.10:53", token=t)
        self.assertEqual(gateway["external_ip"], "192.168.11.100")
        self.assertEqual(gateway["host_id"], host["id"])  # placed on the only gateway host
        self.assertEqual(gateway["nat_rules"][1], {"protocol": "udp", "external_port": 53,
                                                   "internal_ip": "10.1.0.10", "internal_port": 53})
        route = self.json_of("route", "create", "--vm-network", "Green", "--prefix", "0.0.0.0/0",
                             "--next-hop", "10.1.0.1", "--metric", "10", token=t)
        self.assertEqual(route["metric"], 10)

        # list / show / update / delete of each, both formats.
        made = {"logical-network": ln, "site": site, "ip-pool": pa_pool, "mac-pool": mac, "host": host,
                "tenant": tenant, "token": token, "vm-network": net, "vm-subnet": subnet,
                "vm-nic": nic, "gateway": gateway, "route": route}
        for noun, obj in made.items():
            with self.subTest(noun=noun):
                listed = self.json_of(noun, "list")
                self.assertIn(obj["id"], [i["id"] for i in listed])
                table = self.run_cli(noun, "list", "-o", "wide").stdout
                self.assertTrue(table.splitlines()[0].startswith("ID"), table)
                self.assertIn(obj["id"], table)
                table = self.run_cli(noun, "list", "-o", "table").stdout
                self.assertNotIn(obj["id"], table)  # names, not ids
                self.assertTrue(table.splitlines()[0].endswith("AGE"), table)
                shown = self.json_of(noun, "show", obj["id"])
                self.assertEqual(shown["id"], obj["id"])
                self.assertIn(obj["id"], self.run_cli(noun, "show", obj["id"], "-o", "table").stdout)
        # update: a writable field of each kind, read back through the API.
        updates = [("logical-network", ln, ["--flow-entropy", "true"], "flow_entropy", True),
                   ("site", site, ["--host-group", "rack-7"], "host_group", "rack-7"),
                   ("ip-pool", pool, ["--reserved", "10.1.0.20"], "reserved", ["10.1.0.20"]),
                   ("mac-pool", mac, ["--name", "lab-2"], "name", "lab-2"),
                   ("host", host, ["--name", "hv1b"], "name", "hv1b"),
                   ("tenant", tenant, ["--name", "Woodgrove Bank"], "name", "Woodgrove Bank"),
                   ("token", token, ["--name", "woodgrove-ci"], "name", "woodgrove-ci"),
                   ("vm-network", net, ["--name", "Green-2"], "name", "Green-2"),
                   ("vm-subnet", subnet, ["--name", "front-2"], "name", "front-2"),
                   ("vm-nic", nic, ["--vm-name", "app-1b"], "vm_name", "app-1b"),
                   ("gateway", gateway, ["--host", "hv1b"], "host_id", host["id"]),
                   ("route", route, ["--metric", "20"], "metric", 20)]
        for noun, obj, flags, field, value in updates:
            with self.subTest(update=noun):
                out = self.run_cli(noun, "update", obj["id"], *flags, "-o", "table").stdout
                self.assertRegex(out, rf"(?m)^{field}\s+")
                self.assertEqual(self.ctl.api("GET", f"/api/v1/{noun}s/{obj['id']}")[field], value)
        # The NIC by name, placed by the admin (a field only the admin may set).
        placed = self.json_of("vm-nic", "update", "app-1b", "--host", "hv1b", "--interface", "tap-app1")
        self.assertEqual(placed["host_id"], host["id"])

        # delete, children first; each gone from the API.
        for noun in ["route", "gateway", "vm-nic", "ip-pool", "vm-subnet", "vm-network", "token"]:
            obj = made[noun] if noun != "ip-pool" else pool
            with self.subTest(delete=noun):
                out = self.run_cli(noun, "delete", obj["id"], "-o", "table").stdout
                self.assertIn(f"deleted {noun} {obj['id']}", out)
                r = self.run_cli(noun, "show", obj["id"], expect=1)
                self.assertIn("(404)", r.stderr)
        # Granted to a tenant: in use until the tenant (or its grant) goes.
        r = self.run_cli("ip-pool", "delete", ext_pool["id"], expect=1)
        self.assertIn(f"tenants {tenant['id']} (granted)", r.stderr)
        for noun in ["tenant", "host", "ip-pool", "mac-pool", "site", "logical-network"]:
            obj = made[noun]
            self.run_cli(noun, "delete", obj["id"], "-o", "json")
            self.assertEqual(self.run_cli(noun, "show", obj["id"], expect=1).returncode, 1)
        self.run_cli("ip-pool", "delete", ext_pool["id"])

    def test_host_policy_and_enroll(self):
        ln = self.json_of("logical-network", "create", "--name", "PolicyNet")
        site = self.json_of("site", "create", "--name", "PolicySite", "--logical-network", ln["id"],
                            "--subnets", "172.16.0.0/24")
        host = self.json_of("host", "create", "--name", "policy-host", "--site", site["id"],
                            "--pa", "172.16.0.5")
        tenant = self.json_of("tenant", "create", "--name", "PolicyTenant")
        net = self.json_of("vm-network", "create", "--name", "Blue", "--logical-network", ln["id"],
                           "--tenant", tenant["id"])
        subnet = self.json_of("vm-subnet", "create", "--vm-network", net["id"], "--name", "s",
                              "--prefix", "10.9.0.0/24", "--vsid", "5001")
        self.json_of("ip-pool", "create", "--vm-subnet", subnet["id"], "--ranges", "10.9.0.10-10.9.0.20")
        self.json_of("vm-nic", "create", "--vm-subnet", subnet["id"], "--vm-name", "vm1",
                     "--host", "policy-host", "--interface", "tap-vm1")
        # The controller compiles on a worker thread after the write: the
        # policy shows the NIC a moment later (under a loaded CI, seconds).
        deadline = time.monotonic() + 20
        while True:
            out = self.run_cli("host", "policy", "policy-host", "-o", "table").stdout
            if "10.9.0.10" in out or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertIn("Provider address: 172.16.0.5/24", out)
        self.assertRegex(out, r"CustomerAddress\s+VirtualSubnetID\s+MACAddress\s+ProviderAddress\s+Rule")
        self.assertRegex(out, r"10\.9\.0\.10\s+5001\s+\S+\s+172\.16\.0\.5\s+encap")
        self.assertRegex(out, r"\{" + net["rdid"] + r"\}\s+5001\s+10\.9\.0\.0/24\s+0\.0\.0\.0\s+0")
        self.assertRegex(out, r"tap-vm1\s+\S+\s+10\.9\.0\.10\s+5001")
        policy = self.json_of("host", "policy", host["id"])
        self.assertEqual(policy, self.ctl.api("GET", f"/api/v1/hosts/{host['id']}/policy"))
        out = self.run_cli("host", "enroll", "policy-host", "-o", "table").stdout
        self.assertRegex(out, r"vnet-agent --controller \S+ --host-id " + host["id"] +
                         " --enrollment-token-file ")
        enrolled = self.json_of("host", "enroll", "policy-host")
        self.assertEqual(set(enrolled), {"token", "ca_sha256", "expires_at", "command"})
        r = self.run_cli("host", "revoke", "policy-host", expect=1)
        self.assertIn("no certificate", r.stderr)

    def test_trace(self):
        ln = self.json_of("logical-network", "create", "--name", "TraceNet")
        site = self.json_of("site", "create", "--name", "TraceSite", "--logical-network", ln["id"],
                            "--subnets", "172.17.0.0/24")
        for name, pa in (("trace-h1", "172.17.0.5"), ("trace-h2", "172.17.0.6")):
            self.json_of("host", "create", "--name", name, "--site", site["id"], "--pa", pa)
        tenant = self.json_of("tenant", "create", "--name", "TraceTenant")
        net = self.json_of("vm-network", "create", "--name", "Blue", "--logical-network", ln["id"],
                           "--tenant", tenant["id"])
        subnet = self.json_of("vm-subnet", "create", "--vm-network", net["id"], "--name", "s",
                              "--prefix", "10.8.0.0/24", "--vsid", "5002")
        self.json_of("ip-pool", "create", "--vm-subnet", subnet["id"], "--ranges", "10.8.0.10-10.8.0.20")
        self.json_of("vm-nic", "create", "--vm-subnet", subnet["id"], "--vm-name", "tr-a",
                     "--host", "trace-h1", "--interface", "tap-a")
        b = self.json_of("vm-nic", "create", "--vm-subnet", subnet["id"], "--vm-name", "tr-b",
                         "--host", "trace-h2", "--interface", "tap-b")
        out = self.run_cli("trace", "--from", "tr-a", "--to", "10.8.0.11", "--protocol", "tcp",
                           "--port", "22", "-o", "table").stdout
        self.assertRegex(out, r"(?m)^1\s+trace-h1\s+vm port\s+port tap-a")
        self.assertRegex(out, r"encapsulated: NVGRE to PA 172\.17\.0\.6 with key VSID 5002")
        self.assertRegex(out, r"(?m)^\d\s+trace-h2\s+uplink\s+received at PA 172\.17\.0\.6")
        self.assertIn(f"delivered (decapsulated) to NIC {b['id']}", out)
        t = self.json_of("trace", "--from", "tr-a", "--to", "10.8.0.99")
        self.assertEqual((t["verdict"], t["reason"]), ("dropped", "arp_unknown"))
        r = self.run_cli("trace", "--from", "tr-a", "--to", "10.8.0.11", "--protocol", "tcp",
                         expect=1)
        self.assertIn("?port: is required with protocol tcp or udp", r.stderr)

    def test_wait_says_when_a_change_did_not_reach_its_hosts(self):
        # A NIC placed on a host whose agent is not connected: saved (the JSON
        # on stdout), not realized: a line on stderr with the code, exit 3.
        ln = self.json_of("logical-network", "create", "--name", "WaitNet")
        site = self.json_of("site", "create", "--name", "WaitSite", "--logical-network", ln["id"],
                            "--subnets", "172.18.0.0/24")
        self.json_of("host", "create", "--name", "wait-h1", "--site", site["id"], "--pa", "172.18.0.5")
        tenant = self.json_of("tenant", "create", "--name", "WaitTenant")
        net = self.json_of("vm-network", "create", "--name", "W", "--logical-network", ln["id"],
                           "--tenant", tenant["id"])
        subnet = self.json_of("vm-subnet", "create", "--vm-network", net["id"], "--name", "w",
                              "--prefix", "10.7.0.0/24")
        self.json_of("ip-pool", "create", "--vm-subnet", subnet["id"], "--ranges", "10.7.0.10-10.7.0.20")
        r = self.run_cli("vm-nic", "create", "--vm-subnet", subnet["id"], "--vm-name", "w1",
                         "--host", "wait-h1", "--interface", "tap-w1", "--wait", expect=3)
        self.assertEqual(json.loads(r.stdout)["vm_name"], "w1")
        self.assertIn("saved, but not realized: pending; host_not_connected", r.stderr)
        # Taking the NIC off the host concerns that host too: still pending.
        r = self.run_cli("vm-nic", "update", "w1", "--host", "null", "--interface", "null",
                         "--wait", expect=3)
        self.assertIn("saved, but not realized: pending", r.stderr)
        # A change no host's policy holds (a name) is realized at once: exit 0.
        self.run_cli("vm-network", "update", "W", "--name", "W2", "--wait")

    def test_errors_go_to_stderr_with_the_problem_detail(self):
        ln = self.json_of("logical-network", "create", "--name", "ErrNet")
        tenant = self.json_of("tenant", "create", "--name", "ErrTenant")
        net = self.json_of("vm-network", "create", "--name", "E", "--logical-network", ln["id"],
                           "--tenant", tenant["id"])
        # Validation: 400 with the field and the server's words; nothing on stdout.
        r = self.run_cli("vm-subnet", "create", "--vm-network", net["id"], "--name", "x",
                         "--prefix", "10.0.0.1/24", expect=1)
        self.assertEqual(r.stdout, "")
        self.assertIn("Bad Request (400)", r.stderr)
        self.assertIn("host bits are set (did you mean 10.0.0.0/24?)", r.stderr)
        r = self.run_cli("site", "create", "--name", "s", "--logical-network", ln["id"],
                         "--subnets", "10.0.0.0/24:x", expect=2)
        self.assertIn("is not PREFIX[:VLAN]", r.stderr)
        # 409 in use names the user.
        r = self.run_cli("logical-network", "delete", ln["id"], expect=1)
        self.assertIn("(409)", r.stderr)
        self.assertIn(net["id"], r.stderr)
        # 412: If-Match that no longer matches.
        r = self.run_cli("vm-network", "update", net["id"], "--name", "F", "--if-match", "stale", expect=1)
        self.assertIn("(412)", r.stderr)
        self.assertEqual(self.ctl.api("GET", f"/api/v1/vm-networks/{net['id']}")["name"], "E")
        etag = self.ctl.api("GET", f"/api/v1/vm-networks/{net['id']}")["etag"]
        self.json_of("vm-network", "update", net["id"], "--name", "F", "--if-match", etag)
        # A tenant and an admin collection: 403, and another tenant's id: 404.
        other = self.json_of("tenant", "create", "--name", "Other")
        tok = self.json_of("token", "create", "--name", "other", "--tenant", other["id"])["token"]
        r = self.run_cli("host", "list", token=tok, expect=1)
        self.assertIn("(403)", r.stderr)
        r = self.run_cli("vm-network", "show", net["id"], token=tok, expect=1)
        self.assertIn("(404)", r.stderr)
        # Names: none, or several.
        r = self.run_cli("vm-network", "show", "no-such-network", expect=1)
        self.assertIn('no vm-network with the id or name "no-such-network"', r.stderr)
        subnet = self.json_of("vm-subnet", "create", "--vm-network", net["id"], "--name", "s",
                              "--prefix", "10.0.0.0/24")
        self.json_of("ip-pool", "create", "--vm-subnet", subnet["id"], "--ranges", "10.0.0.10-10.0.0.20")
        for _ in range(2):  # one VM, two NICs
            self.json_of("vm-nic", "create", "--vm-subnet", subnet["id"], "--vm-name", "twin")
        r = self.run_cli("vm-nic", "show", "twin", expect=1)
        self.assertIn('2 vm-nics are named "twin"; give the id:', r.stderr)
        # Token, URL and usage.
        r = self.run_cli("tenant", "list", token="vnet_bogus", expect=1)
        self.assertIn("(401)", r.stderr)
        r = self.run_cli("tenant", "list", env={"VNET_TOKEN": ""}, token="", expect=2)
        self.assertIn("no token", r.stderr)
        r = self.run_cli("--url", "http://127.0.0.1:1", "tenant", "list", expect=1)
        self.assertIn("cannot reach the controller at http://127.0.0.1:1", r.stderr)
        r = self.run_cli("--url", "http://[::1]:1", "tenant", "list", expect=1)
        self.assertIn("cannot reach the controller at http://[::1]:1", r.stderr)
        r = self.run_cli("--url", "ftp://127.0.0.1", "tenant", "list", expect=2)
        self.assertIn("is not a URL like https://controller.example:8080", r.stderr)
        r = self.run_cli("--url", "http://192.0.2.1:8080", "tenant", "list", expect=1)
        self.assertIn("not a loopback address: vnetctl sends a token only over HTTPS", r.stderr)
        r = self.run_cli("tenant", "create", "--no-such-flag", "x", expect=2)
        self.assertIn("no option --no-such-flag (see vnetctl tenant create --help)", r.stderr)
        self.assertIn("--no-such-flag", r.stderr)
        r = self.run_cli("tenant", "list", "-o", "yaml", expect=105)
        self.assertIn("yaml", r.stderr)
        self.assertNotEqual(self.run_cli("tenant", expect=106).returncode, 0)

    @unittest.skipUnless(shutil.which("script"), "needs script(1) for a terminal")
    def test_a_terminal_gets_a_table_and_a_pipe_gets_json(self):
        self.json_of("tenant", "create", "--name", "tty-tenant")
        environment = dict(os.environ, VNET_URL=self.ctl.url, VNET_TOKEN=self.ctl.admin)
        on_tty = subprocess.run(["script", "-qec", f"{VNETCTL} tenant list", "/dev/null"],
                                capture_output=True, text=True, env=environment, timeout=60)
        self.assertEqual(on_tty.returncode, 0, on_tty.stderr)
        self.assertRegex(on_tty.stdout.lstrip(), r"^NAME\s+LOGICAL NETWORK IDS")
        self.assertIn("tty-tenant", on_tty.stdout)
        piped = self.run_cli("tenant", "list").stdout
        self.assertIn("tty-tenant", [t["name"] for t in json.loads(piped)])

    def test_lists_by_name_state_and_order_with_names_columns_and_ages(self):
        ln = self.json_of("logical-network", "create", "--name", "ListNet")
        tenant = self.json_of("tenant", "create", "--name", "Lister", "--logical-network-ids", "ListNet")
        t = self.json_of("token", "create", "--name", "lister", "--tenant", "Lister")["token"]
        for name in ["beta", "Alpha", "gamma"]:
            self.json_of("vm-network", "create", "--name", name, token=t)
        names = lambda *a: [n["name"] for n in self.json_of("vm-network", "list", *a, token=t)]
        self.assertEqual(names("--name", "*a*"), ["beta", "Alpha", "gamma"])
        self.assertEqual(names("--name", "a*"), ["Alpha"])
        self.assertEqual(names("--sort", "name"), ["Alpha", "beta", "gamma"])
        self.assertEqual(names("--sort", "-created"), ["gamma", "Alpha", "beta"])
        # A table shows references by name and ages; wide shows ids.
        net = self.json_of("vm-network", "show", "beta", token=t)
        self.json_of("vm-subnet", "create", "--vm-network", "beta", "--name", "s1", "--prefix", "10.5.0.0/24", token=t)
        table = self.run_cli("vm-subnet", "list", "-o", "table", token=t).stdout
        self.assertRegex(table, r"^NAME\s+PREFIX\s+VSID\s+VM NETWORK ID\s+AGE\n")
        self.assertRegex(table, r"\ns1\s+10\.5\.0\.0/24\s+\d+\s+beta\s+\d+s\n")
        wide = self.run_cli("vm-subnet", "list", "-o", "wide", token=t).stdout
        self.assertRegex(wide, r"^ID\s+NAME")
        self.assertIn(net["id"], wide)
        cols = self.run_cli("vm-network", "list", "-o", "table", "-c", "name,logical-network-id", "--name", "beta",
                            token=t).stdout
        self.assertEqual(cols.split(), ["NAME", "LOGICAL", "NETWORK", "ID", "beta", "ListNet"])
        r = self.run_cli("vm-network", "list", "-c", "nmae", token=t, expect=2)
        self.assertIn('no column "nmae" (did you mean name?)', r.stderr)
        # State: the unplaced NIC waits.
        self.json_of("ip-pool", "create", "--vm-subnet", "s1", "--ranges", "10.5.0.10-10.5.0.20", token=t)
        self.json_of("vm-nic", "create", "--vm-subnet", "s1", "--vm-name", "waiting", token=t)
        self.assertEqual([n["vm_name"] for n in self.json_of("vm-nic", "list", "--state", "pending", token=t)],
                         ["waiting"])
        self.assertEqual(self.json_of("vm-nic", "list", "--state", "failure", token=t), [])
        # whoami, with the grants by name.
        who = self.json_of("whoami", token=t)
        self.assertEqual(who["tenant_name"], "Lister")
        self.assertEqual(who["logical_networks"], [{"id": ln["id"], "name": "ListNet"}])
        table = self.run_cli("whoami", "-o", "table", token=t).stdout
        self.assertRegex(table, r"tenant\s+Lister")
        self.assertIn(f"ListNet ({ln['id']})", table)
        self.assertEqual(tenant["logical_network_ids"], [ln["id"]])

    def test_did_you_mean_version_and_completion(self):
        r = self.run_cli("vm-netwrk", "list", expect=2)
        self.assertIn('no noun "vm-netwrk" (did you mean vm-network?)', r.stderr)
        r = self.run_cli("vm-network", "lsit", expect=2)
        self.assertIn('no verb "lsit" (did you mean list?)', r.stderr)
        r = self.run_cli("vm-nic", "list", "--stat", "pending", expect=2)
        self.assertIn("no option --stat (did you mean --state?)", r.stderr)
        r = self.run_cli("--version")
        self.assertRegex(r.stdout, r"^vnetctl \d+\.\d+\.\d+")
        script = self.run_cli("completion", "bash").stdout
        self.assertIn("complete -F _vnetctl vnetctl", script)
        self.assertIn('"vm-nic list") words="', script)
        self.assertIn("--state", script)
        # The script completes in a real bash.
        probe = subprocess.run(["bash", "-c", script + '\nCOMP_WORDS=(vnetctl vm-ni); COMP_CWORD=1; _vnetctl; echo "${COMPREPLY[@]}"\n'
                                '\nCOMP_WORDS=(vnetctl vm-nic li); COMP_CWORD=2; _vnetctl; echo "${COMPREPLY[@]}"'],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(probe.stdout.split("\n")[:2], ["vm-nic", "list"], probe.stderr)
        self.assertIn("bashcompinit", self.run_cli("completion", "zsh").stdout)

    def test_url_flag_overrides_the_environment_and_pages_are_followed(self):
        for i in range(5):
            self.json_of("tenant", "create", "--name", f"page-{i}")
        all_tenants = self.json_of("tenant", "list")
        self.assertEqual(len(all_tenants), len(self.ctl.api("GET", "/api/v1/tenants?limit=1000")["items"]))
        self.assertEqual(len(self.json_of("tenant", "list", "--limit", "2")), 2)
        r = self.run_cli("--url", self.ctl.url, "--token", self.ctl.admin, "tenant", "list",
                         env={"VNET_URL": "http://127.0.0.1:1", "VNET_TOKEN": "vnet_wrong"})
        self.assertEqual(len(json.loads(r.stdout)), len(all_tenants))




class HttpsTest(unittest.TestCase):
    """vnetctl against a controller off loopback: HTTPS with the
    controller's own CA, trusted through --ca-cert or VNET_CA_CERT only."""

    @classmethod
    def setUpClass(cls):
        cls.ctl = Controller(listen="0.0.0.0:0")

    @classmethod
    def tearDownClass(cls):
        cls.ctl.stop()

    def run_cli(self, *args, env=None):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("VNET_")}
        environment.update({"VNET_TOKEN": self.ctl.admin})
        environment.update(env or {})
        return subprocess.run([VNETCTL, *args], capture_output=True, text=True, env=environment, timeout=60)

    def test_https_with_the_controllers_ca(self):
        self.assertTrue(self.ctl.url.startswith("https://"), self.ctl.url)
        ca = os.path.join(self.ctl.dir, "ca.crt")
        r = self.run_cli("--url", self.ctl.url, "--ca-cert", ca, "logical-network", "create", "--name", "dc", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["name"], "dc")
        r = self.run_cli("logical-network", "list", "-o", "json", env={"VNET_URL": self.ctl.url, "VNET_CA_CERT": ca})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([n["name"] for n in json.loads(r.stdout)], ["dc"])

    def test_an_untrusted_certificate_is_refused_with_the_fix(self):
        r = self.run_cli("--url", self.ctl.url, "host", "list")
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not trust", r.stderr)
        self.assertIn("--ca-cert", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_plain_http_to_an_https_port_is_answered_with_where_to_go(self):
        r = self.run_cli("--url", self.ctl.url.replace("https://", "http://"), "host", "list")
        self.assertEqual(r.returncode, 1)
        self.assertIn("serves HTTPS only", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
