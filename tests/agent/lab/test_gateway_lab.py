"""Gateways in a lab of network namespaces (DESIGN.md section 5, seed
scenarios 7 and 8): a real controller, a compute host, two gateway hosts
whose external interfaces face an `internet` namespace with a TCP and UDP
server at 203.0.113.1, and the external pool 203.0.113.100-120.

Blue and Red (both 10.0.0.5, two tenants) reach the server at once through
their own NAT gateways; Green's forwarding gateway makes 10.20.0.0/24
reachable, untranslated, through a route to its external address.

Needs root; skips (exit 77) otherwise, which VNET_REQUIRE_PRIVILEGED turns
into a failure.
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vnetlab  # noqa: E402
from vnetlab import PYTHON, frames_at, uuid, wait_until  # noqa: E402

RED_TENANT = uuid(0xe000)
EDGE_POOL = uuid(0xf002)  # Controller.external_network()
SERVER = "203.0.113.1"

# In the internet namespace: TCP 7000 answers each connection with the
# address it came from; UDP 7001 echoes each datagram after that address.
SERVERS = r"""
import socket, threading
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 7000)); s.listen(64)
    while True:
        c, peer = s.accept(); c.sendall(f"{peer[0]}:{peer[1]}".encode()); c.close()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 7001))
    while True:
        data, peer = s.recvfrom(2048); s.sendto(f"{peer[0]}:{peer[1]}|".encode() + data, peer)
threading.Thread(target=udp, daemon=True).start()
tcp()
"""

# A VM or the internet asks a TCP server what address it saw.
TCP_ASK = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(c.recv(256).decode()); c.close()
"""

# Sends one datagram from a fixed source port; prints the answer.
UDP_ASK = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[3]))); s.settimeout(5)
s.sendto(sys.argv[4].encode(), (sys.argv[1], int(sys.argv[2])))
print(s.recvfrom(2048)[0].decode())
"""

# A VM's listener: answers each connection with the address it came from
# and its own name.
VM_LISTENER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)
while True:
    c, peer = s.accept(); c.sendall(f"{sys.argv[2]} saw {peer[0]}".encode()); c.close()
"""

# Unsolicited traffic from outside: UDP datagrams and TCP SYNs (connect
# attempts that time out) to an external address.
UNSOLICITED = r"""
import socket, sys
address = sys.argv[1]
for port in (5353, 7001, 40000):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5): u.sendto(b"knock", (address, port))
for port in (22, 80, 5353):
    t = socket.socket(); t.settimeout(0.5)
    try: t.connect((address, port))
    except OSError: pass
"""


class GatewayLab(vnetlab.LabTestCase):
    @classmethod
    def build(cls):
        lab = cls.lab
        c = lab.start_controller()
        h1 = lab.add_host("h1", "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24")
        g1 = lab.add_host("g1", "192.168.3.1/24", "10.98.3.1/24", "10.98.3.30/24")
        g2 = lab.add_host("g2", "192.168.4.1/24", "10.98.4.1/24", "10.98.4.40/24")
        c.underlay(["192.168.1.0/24", "192.168.3.0/24", "192.168.4.0/24"])
        c.call("PUT", f"/tenants/{RED_TENANT}", {"name": "red"})
        c.place_host(h1, 0x101, "192.168.1.10")
        c.place_host(g1, 0x103, "192.168.3.30")
        c.place_host(g2, 0x104, "192.168.4.40")
        inet = lab.add_internet(f"{SERVER}/24")
        lab.connect_external(g1)
        lab.connect_external(g2)
        for gw in (g1, g2):
            c.call("PATCH", f"/hosts/{gw.id}", {"external_interface": "ext0"})
        c.external_network(SERVER)

        c.vm_network(0xb1, "Blue")
        c.vm_network(0xd1, "Red", tenant=RED_TENANT)
        c.vm_network(0x21, "Green")
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24", None, ("10.0.0.5", "10.0.0.50"))
        c.vm_subnet(0xd10, 0xd1, "10.0.0.0/24", None, ("10.0.0.5", "10.0.0.50"))
        c.vm_subnet(0x210, 0x21, "10.20.0.0/24", None, ("10.20.0.5", "10.20.0.50"))

        def vm(name, n, subnet_n, ip, mac, interface, gateway):
            got = c.vm_nic(n, subnet_n, name, mac, ip, h1.id, interface)
            machine = lab.add_vm(name, h1, interface, mac, f"{got['ip']}/24", gateway)
            machine.nic = got
            return machine

        cls.blue5 = vm("blue5", 0x1b5, 0xb10, "10.0.0.5", "00:1d:d8:b7:1c:05", "b5", "10.0.0.1")
        cls.red5 = vm("red5", 0x1d5, 0xd10, "10.0.0.5", "00:1d:d8:b7:1c:15", "r5", "10.0.0.1")
        cls.green5 = vm("green5", 0x125, 0x210, "10.20.0.5", "00:1d:d8:b7:1c:25", "n5",
                        "10.20.0.1")

        def gateway(n, network_n, name, kind, rules=()):
            body = {"name": name, "vm_network_id": uuid(network_n), "kind": kind,
                    "external_pool_id": EDGE_POOL, "nat_rules": list(rules)}
            return c.call("PUT", f"/gateways/{uuid(n)}", body)

        cls.blue_gw = gateway(0x6b1, 0xb1, "blue-internet", "nat",
                              [{"protocol": "tcp", "external_port": 8080,
                                "internal_ip": "10.0.0.5", "internal_port": 80}])
        cls.red_gw = gateway(0x6d1, 0xd1, "red-internet", "nat")
        cls.green_gw = gateway(0x621, 0x21, "green-dc", "forwarding")
        # Placed on the gateway host with the fewest: g1, g2, g1.
        assert cls.blue_gw["host_id"] == g1.id, cls.blue_gw
        assert cls.red_gw["host_id"] == g2.id, cls.red_gw
        # The datacenter routes Green's prefixes to its gateway's address.
        inet.run("ip", "route", "add", "10.20.0.0/24", "via", cls.green_gw["external_ip"])
        lab.processes.append(inet.popen([PYTHON, "-c", SERVERS],
                                        os.path.join(lab.dir, "internet-servers.log")))
        cls.h1, cls.g1, cls.g2 = h1, g1, g2
        lab.start_agents([h1, g1, g2])

    # --- helpers --------------------------------------------------------

    def ask_tcp(self, ns, address, port=7000):
        return ns.python(TCP_ASK, address, str(port), timeout=30).strip()

    def wait_gateway(self, gateway):
        c = self.lab.controller

        def ready():
            g = c.call("GET", f"/gateways/{gateway['id']}")
            return g if g["configuration_state"]["status"] == "success" else None
        return wait_until(ready, timeout=20, interval=0.1, what=f"{gateway['name']} realized")

    def test_the_gateway_host_reports_its_external_interfaces_mtu(self):
        # Issue 18: the agent tells the controller its external interface's
        # MTU with its uplink's; a host without one says nothing of it.
        gw = self.wait_gateway(self.blue_gw)
        c = self.lab.controller
        wait_until(lambda: c.call("GET", f"/hosts/{gw['host_id']}").get("external_mtu") == 1500,
                   timeout=20, what="the gateway host's external_mtu")
        self.assertNotIn("external_mtu", c.call("GET", f"/hosts/{self.h1.id}"))

    # --- scenario 7: NAT ------------------------------------------------

    def test_blue_and_red_with_the_same_address_reach_the_server_through_their_own(self):
        self.wait_gateway(self.blue_gw)
        self.wait_gateway(self.red_gw)
        blue, red = {}, {}
        import threading
        threads = [threading.Thread(target=lambda: blue.update(seen=self.ask_tcp(
                       self.blue5.ns, SERVER))),
                   threading.Thread(target=lambda: red.update(seen=self.ask_tcp(
                       self.red5.ns, SERVER)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(blue["seen"].split(":")[0], self.blue_gw["external_ip"])
        self.assertEqual(red["seen"].split(":")[0], self.red_gw["external_ip"])
        # The flows are in the gateway hosts' NAT tables, as conntrack -L would list them.
        flows = self.g1.show("nat")["flows"]
        self.assertTrue(any(f["ca"] == "10.0.0.5" and f["remote"] == SERVER and
                            f["protocol"] == "tcp" for f in flows), flows)

    def test_udp_from_the_same_address_and_port_of_both_tenants_comes_back_to_each(self):
        results = {}
        import threading

        def ask(vm, word):
            results[vm.name] = vm.ns.python(UDP_ASK, SERVER, "7001", "5353", word,
                                            timeout=30).strip()
        threads = [threading.Thread(target=ask, args=(self.blue5, "blue")),
                   threading.Thread(target=ask, args=(self.red5, "red"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results["blue5"], f"{self.blue_gw['external_ip']}:5353|blue")
        self.assertEqual(results["red5"], f"{self.red_gw['external_ip']}:5353|red")

    def test_ping_through_the_nat_gateway(self):
        self.assertEqual(self.blue5.ping(SERVER), 3)
        self.assertEqual(self.red5.ping(SERVER), 3)

    def test_unsolicited_traffic_from_outside_reaches_no_vm(self):
        # Earlier flows of the VMs (5353 among them) may be open: a remote
        # that is not their peer still reaches nobody. The server is their
        # peer, so knock from another address of the internet.
        self.lab.internet.run("ip", "addr", "replace", "203.0.113.9/24", "dev", "br0")
        knock = UNSOLICITED.replace("u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
                                    "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                                    "u.bind(('203.0.113.9', 0))").replace(
                                    "t = socket.socket(); t.settimeout(0.5)",
                                    "t = socket.socket(); t.bind(('203.0.113.9', 0)); "
                                    "t.settimeout(0.5)")

        def knock_both():
            self.lab.internet.python(knock, self.blue_gw["external_ip"], timeout=30)
            self.lab.internet.python(knock, self.red_gw["external_ip"], timeout=30)
        at_blue, at_red = frames_at([self.blue5, self.red5], "tcp or (udp and not port 53)",
                                    knock_both)
        self.assertEqual((at_blue, at_red), (0, 0))
        blue = [g for g in self.g1.show("gateways") if g.get("local")]
        self.assertGreater(sum(g.get("nat_unsolicited", 0) for g in blue), 0, blue)

    def test_a_nat_rule_reaches_a_listener_in_a_vm(self):
        listener = self.blue5.ns.popen([PYTHON, "-c", VM_LISTENER, "80", "blue5"],
                                       os.path.join(self.lab.dir, "blue5-listener.log"))
        self.lab.processes.append(listener)
        try:
            time.sleep(0.3)
            answer = self.ask_tcp(self.lab.internet, self.blue_gw["external_ip"], 8080)
            self.assertEqual(answer, f"blue5 saw {SERVER}")
            # Red's address has no such rule.
            with self.assertRaises(vnetlab.LabError):
                self.ask_tcp(self.lab.internet, self.red_gw["external_ip"], 8080)
        finally:
            listener.kill()
            listener.wait()

    # --- scenario 8: forwarding -----------------------------------------

    def test_a_forwarding_gateway_carries_the_vm_networks_own_addresses_both_ways(self):
        self.wait_gateway(self.green_gw)
        self.assertEqual(self.ask_tcp(self.green5.ns, SERVER).split(":")[0], "10.20.0.5")
        listener = self.green5.ns.popen([PYTHON, "-c", VM_LISTENER, "80", "green5"],
                                        os.path.join(self.lab.dir, "green5-listener.log"))
        self.lab.processes.append(listener)
        try:
            time.sleep(0.3)
            self.assertEqual(self.ask_tcp(self.lab.internet, "10.20.0.5", 80),
                             f"green5 saw {SERVER}")
        finally:
            listener.kill()
            listener.wait()

    # --- vnet-agent trace on the live tables (issue 16) --------------------

    def agent_trace(self, host, *args):
        out = host.ns.run(self.lab.agent_binary, "trace", *args, "-o", "json", "--state-dir",
                          host.state)
        return json.loads(out)

    def test_vnet_agent_trace_follows_a_packet_through_the_hosts_live_tables(self):
        # Blue 5 to the internet: its host sends it to the gateway host.
        t = self.agent_trace(self.h1, "--from", "b5", "--to", SERVER, "--protocol", "tcp",
                             "--port", "7000")
        self.assertEqual((t["verdict"], t["reason"]), ("forwarded", "to_gateway"), t)
        self.assertEqual([h["step"] for h in t["hops"]], ["vm port", "frame", "pipeline", "uplink"])
        self.assertIn(f"to_gateway: NVGRE to PA {self.blue_gw_host_pa()}", t["hops"][2]["detail"])
        # By NIC id, to an address of its subnet nobody has: the ARP goes unanswered.
        t = self.agent_trace(self.h1, "--from", self.blue5.nic["id"], "--to", "10.0.0.77")
        self.assertEqual((t["verdict"], t["reason"]), ("dropped", "arp_unknown"), t)
        # Anti-spoofing, as the VM would meet it.
        t = self.agent_trace(self.h1, "--from", "r5", "--to", SERVER, "--src", "10.0.0.99")
        self.assertEqual(t["reason"], "spoofed_ip", t)

    def blue_gw_host_pa(self):
        gw = self.lab.controller.call("GET", f"/gateways/{self.blue_gw['id']}")
        return "192.168.3.30" if gw["host_id"] == self.g1.id else "192.168.4.40"

    # --- vnetctl --wait with a real agent (issue 16) -----------------------

    def vnetctl(self, *args):
        env = ["env", "VNET_URL=http://127.0.0.1:8080", f"VNET_TOKEN={self.lab.controller.token}"]
        return subprocess.run(["ip", "netns", "exec", self.lab.underlay.name, *env,
                               os.environ["VNET_VNETCTL_BINARY"], *args, "-o", "json"],
                              capture_output=True, text=True, timeout=60)

    def test_vnetctl_wait_is_realized_only_when_the_agent_has_it_and_says_why_not(self):
        # An interface that exists on h1: realized, exit 0.
        self.lab.add_vm("wait9", self.h1, "w9", "00:1d:d8:b7:1c:09", "10.0.0.9/24", "10.0.0.1")
        r = self.vnetctl("vm-nic", "create", "--vm-subnet-id", uuid(0xb10), "--vm-name", "wait9",
                         "--ip", "10.0.0.9", "--mac", "00:1d:d8:b7:1c:09", "--host-id", self.h1.id,
                         "--interface", "w9", "--wait")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["configuration_state"]["status"], "success")
        # One that does not: the agent reports it, vnetctl says so and fails.
        r = self.vnetctl("vm-nic", "create", "--vm-subnet-id", uuid(0xb10), "--vm-name", "ghost",
                         "--ip", "10.0.0.10", "--host-id", self.h1.id, "--interface", "nosuch0",
                         "--wait")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("saved, but not realized: failed; interface_missing", r.stderr)

    # --- moves and restarts (run last: zz) -------------------------------

    def test_zz_a_moved_gateway_carries_new_flows_and_survives_an_agent_restart(self):
        c = self.lab.controller
        c.call("PATCH", f"/gateways/{self.blue_gw['id']}", {"host_id": self.g2.id})
        self.g1.wait_realized()
        self.g2.wait_realized()
        self.wait_gateway(self.blue_gw)
        seen = wait_until(lambda: self._try_tcp(self.blue5), timeout=15, what="Blue through g2")
        self.assertEqual(seen.split(":")[0], self.blue_gw["external_ip"])
        self.assertFalse(self.g1.ns.run("ip", "-o", "addr", "show", "dev", "ext0").count(
            self.blue_gw["external_ip"] + "/"), "g1 kept Blue's address")
        flows = self.g2.show("nat")["flows"]
        self.assertTrue(any(f["external_ip"] == self.blue_gw["external_ip"] for f in flows))

        # The gateway host's agent restarted: forwarding resumes once it is
        # back. With a NAT table of 2 flows, one per gateway (Blue and Red
        # run on g2 now), each tenant's second flow is refused, and the
        # gateway's configuration_state and /metrics say so.
        self.assertEqual(self.g2.stop_agent(), 0)
        self.g2.start_agent(f"{self.g2.mgmt_gateway}:6641", extra=("--nat-flows", "2"))
        self.g2.wait_realized()
        seen = wait_until(lambda: self._try_tcp(self.blue5), timeout=15,
                          what="Blue after the restart")
        self.assertEqual(seen.split(":")[0], self.blue_gw["external_ip"])
        seen = wait_until(lambda: self._try_tcp(self.red5), timeout=15,
                          what="Red after the restart")
        self.assertEqual(seen.split(":")[0], self.red_gw["external_ip"])
        self.assertIsNone(self._try_tcp(self.red5))  # its one flow is still closing

        def refusing():
            g = c.call("GET", f"/gateways/{self.red_gw['id']}")["configuration_state"]
            return g if g["status"] == "failure" else None
        state = wait_until(refusing, timeout=10, what="Red's gateway to say it refuses flows")
        self.assertEqual(state["detail"][0]["code"], "nat_table_full")
        metrics = self.lab.underlay.run("curl", "-s", "http://127.0.0.1:8080/metrics")
        self.assertIn('vnet_problems{code="nat_table_full"} ', metrics)
        self.assertNotIn('vnet_problems{code="nat_table_full"} 0', metrics)

    def _try_tcp(self, vm):
        try:
            return self.ask_tcp(vm.ns, SERVER)
        except vnetlab.LabError:
            return None


if __name__ == "__main__":
    vnetlab.skip_unless_root("the gateway lab")
    unittest.main(verbosity=2)
