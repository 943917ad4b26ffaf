"""The seed scenarios of DESIGN.md section 5, end to end: a real controller,
real agents with their AF_XDP engines, VMs as network namespaces
(tests/agent/lab/vnetlab.py). Each scenario builds its own lab, asserts on
traffic (ping, a TCP transfer checked by SHA-256), on the engines' counters
and on the realization the controller shows, and removes the lab.

Needs root; skips (exit 77) otherwise, a failure under
VNET_REQUIRE_PRIVILEGED=1.
"""

import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "agent", "lab"))
import vnetlab  # noqa: E402
from vnetlab import echo_requests_at, tcp_transfer, uuid  # noqa: E402

TENANT2 = uuid(0xe000)


def counter(host, port, name):
    return host.counters().get(port, {}).get(name, 0)


class Scenario1OneHost(vnetlab.LabTestCase):
    """One host; Blue1/Blue2 in VSID 5010 and Red1/Red2 in VSID 5020, all with
    10.10.10.10/24 and 10.10.10.20/24: each pair talks, no cross talk."""

    @classmethod
    def build(cls):
        lab = cls.lab
        c = lab.start_controller()
        h1 = lab.add_host("h1", "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24")
        c.underlay(["192.168.1.0/24"])
        c.call("PUT", f"/tenants/{TENANT2}", {"name": "red"})
        c.place_host(h1, 0x101, "192.168.1.10")
        c.vm_network(0xb1, "Blue")
        c.vm_network(0xd1, "Red", tenant=TENANT2)
        c.vm_subnet(0xb10, 0xb1, "10.10.10.0/24", 5010)
        c.vm_subnet(0xd10, 0xd1, "10.10.10.0/24", 5020)
        cls.vms = {}
        for n, name, subnet, ip, mac in ((0x1b1, "blue1", 0xb10, "10.10.10.10", "00:1d:d8:b7:1c:a1"),
                                         (0x1b2, "blue2", 0xb10, "10.10.10.20", "00:1d:d8:b7:1c:a2"),
                                         (0x1d1, "red1", 0xd10, "10.10.10.10", "00:1d:d8:b7:1c:b1"),
                                         (0x1d2, "red2", 0xd10, "10.10.10.20", "00:1d:d8:b7:1c:b2")):
            c.vm_nic(n, subnet, name, mac, ip, h1.id, name)
            cls.vms[name] = lab.add_vm(name, h1, name, mac, f"{ip}/24", None)
        lab.start_agents([h1])
        cls.h1 = h1

    def test_each_pair_talks_and_no_cross_talk(self):
        v = self.vms
        for me, mine, other in (("blue1", "blue2", "red2"), ("red1", "red2", "blue2")):
            replies = []
            seen = echo_requests_at(
                v[other], lambda: replies.append(v[me].ping("10.10.10.20", count=10,
                                                           interval=0.05)))
            self.assertEqual(replies, [10], me)
            self.assertEqual(seen, 0, f"{me}'s echo requests reached {other}")
        for client, server in (("blue1", "blue2"), ("red1", "red2")):
            sent, received = tcp_transfer(v[client], v[server], "10.10.10.20")
            self.assertEqual(sent, received, client)
        self.assertGreater(counter(self.h1, "blue1", "delivered_local"), 0)
        self.assertEqual(counter(self.h1, "uplink", "tx_packets"), 0)  # nothing left the host


class TwoHostsMixin:
    """Two hosts with PAs in two routed underlay subnets (192.168.1.0/24 and
    192.168.2.0/24), Blue (VSID 5001) and Red (VSID 6001) of two tenants."""

    @classmethod
    def two_hosts(cls):
        lab = cls.lab
        c = lab.start_controller()
        cls.h1 = lab.add_host("h1", "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24")
        cls.h2 = lab.add_host("h2", "192.168.2.1/24", "10.98.2.1/24", "10.98.2.20/24")
        c.underlay(["192.168.1.0/24", "192.168.2.0/24"])
        c.call("PUT", f"/tenants/{TENANT2}", {"name": "red"})
        c.place_host(cls.h1, 0x101, "192.168.1.10")
        c.place_host(cls.h2, 0x102, "192.168.2.20")
        return c

    @classmethod
    def vm(cls, c, n, subnet_n, name, ip, mac, host, gateway=None):
        c.vm_nic(n, subnet_n, name, mac, ip, host.id, name)
        return cls.lab.add_vm(name, host, name, mac, f"{ip}/{cls.prefix_len}", gateway)


class Scenario2TwoHosts(vnetlab.LabTestCase, TwoHostsMixin):
    """Blue and Red with 10.0.0.5 on host 1 and 10.0.0.7 on host 2, across NVGRE."""
    prefix_len = 24

    @classmethod
    def build(cls):
        c = cls.two_hosts()
        c.vm_network(0xb1, "Blue")
        c.vm_network(0xd1, "Red", tenant=TENANT2)
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24", 5001)
        c.vm_subnet(0xd10, 0xd1, "10.0.0.0/24", 6001)
        cls.blue5 = cls.vm(c, 0x1b5, 0xb10, "blue5", "10.0.0.5", "00:1d:d8:b7:1c:05", cls.h1)
        cls.blue7 = cls.vm(c, 0x1b7, 0xb10, "blue7", "10.0.0.7", "00:1d:d8:b7:1c:07", cls.h2)
        cls.red5 = cls.vm(c, 0x1d5, 0xd10, "red5", "10.0.0.5", "00:1d:d8:b7:1c:15", cls.h1)
        cls.red7 = cls.vm(c, 0x1d7, 0xd10, "red7", "10.0.0.7", "00:1d:d8:b7:1c:17", cls.h2)
        cls.lab.start_agents([cls.h1, cls.h2])

    def test_each_network_talks_across_hosts_and_never_to_the_other(self):
        for me, other in ((self.blue5, self.red7), (self.red5, self.blue7)):
            replies = []
            seen = echo_requests_at(
                other, lambda: replies.append(me.ping("10.0.0.7", count=10, interval=0.05)))
            self.assertEqual(replies, [10], me.name)
            self.assertEqual(seen, 0, f"{me.name}'s echo requests reached {other.name}")
        for client, server in ((self.blue5, self.blue7), (self.red5, self.red7)):
            sent, received = tcp_transfer(client, server, "10.0.0.7")
            self.assertEqual(sent, received, client.name)
        self.assertGreater(counter(self.h1, "blue5", "encapsulated"), 0)
        self.assertGreater(counter(self.h2, "uplink", "decapsulated"), 0)
        self.assertEqual(counter(self.h2, "uplink", "vsid_mismatch"), 0)


class Scenario3RoutingDomains(vnetlab.LabTestCase, TwoHostsMixin):
    """VM network AAA with 10.10.0.0/16 and 172.16.0.0/16 routing to each
    other; BBB with the same 10.10.0.0/16 stays isolated."""
    prefix_len = 16

    @classmethod
    def build(cls):
        c = cls.two_hosts()
        c.vm_network(0xaa, "AAA")
        c.vm_network(0xbb, "BBB", tenant=TENANT2)
        c.vm_subnet(0xa10, 0xaa, "10.10.0.0/16")
        c.vm_subnet(0xa20, 0xaa, "172.16.0.0/16")
        c.vm_subnet(0xb10, 0xbb, "10.10.0.0/16")
        cls.front = cls.vm(c, 0x1a1, 0xa10, "front", "10.10.1.5", "00:1d:d8:b7:1c:c1", cls.h1,
                           "10.10.0.1")
        cls.back = cls.vm(c, 0x1a2, 0xa20, "back", "172.16.1.5", "00:1d:d8:b7:1c:c2", cls.h2,
                          "172.16.0.1")
        cls.other = cls.vm(c, 0x1b1, 0xb10, "other", "10.10.1.5", "00:1d:d8:b7:1c:c3", cls.h1,
                           "10.10.0.1")
        cls.lab.start_agents([cls.h1, cls.h2])

    def test_aaa_routes_between_its_subnets_bbb_reaches_nothing_of_it(self):
        # BBB's 10.10.1.5 asks for AAA's back end: nothing arrives there.
        before = counter(self.h1, "other", "no_route")
        replies = []
        seen = echo_requests_at(self.back, lambda: replies.append(
            self.other.ping("172.16.1.5", count=5, interval=0.05)))
        self.assertEqual((replies, seen), ([0], 0))
        self.assertEqual(counter(self.h1, "other", "no_route") - before, 5)
        # AAA's two subnets route to each other.
        self.assertEqual(self.front.ping("172.16.1.5", count=5, interval=0.1), 5)
        self.assertEqual(self.back.ping("10.10.1.5", count=5, interval=0.1), 5)
        out = self.front.ns.run("ping", "-n", "-c", "1", "-W", "1", "172.16.1.5")
        self.assertIn("ttl=63", out)  # routed once, by the virtual router
        sent, received = tcp_transfer(self.front, self.back, "172.16.1.5")
        self.assertEqual(sent, received)


class Scenario4Dhcp(vnetlab.LabTestCase):
    """A VM gets 10.10.1.100 with gateway 10.10.0.1 and the pool's DNS by DHCP
    from a pool 10.10.1.100-10.10.1.130, with the kernel's own address set."""

    @classmethod
    def build(cls):
        lab = cls.lab
        c = lab.start_controller()
        h1 = lab.add_host("h1", "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24")
        c.underlay(["192.168.1.0/24"])
        c.place_host(h1, 0x101, "192.168.1.10")
        c.vm_network(0xaa, "AAA")
        c.vm_subnet(0xa10, 0xaa, "10.10.0.0/16", None, ("10.10.1.100", "10.10.1.130"),
                    ["10.10.0.2"])
        cls.nic = c.vm_nic(0x1a1, 0xa10, "web1", "00:1d:d8:b7:1c:d1", None, h1.id, "web1")
        cls.vm = lab.add_vm("web1", h1, "web1", "00:1d:d8:b7:1c:d1", None, None)
        lab.start_agents([h1])
        cls.h1 = h1

    def test_the_first_vm_gets_the_pools_first_address(self):
        self.assertEqual(self.nic["ip"], "10.10.1.100")
        out = self.vm.ns.python(vnetlab.DHCP_CLIENT, "00:1d:d8:b7:1c:d1", timeout=30)
        address, router, dns, mtu = out.split()
        self.assertEqual((address, router, dns, mtu), ("10.10.1.100", "10.10.0.1", "10.10.0.2",
                                                       "1458"))
        # The VM configures what it was given and reaches its gateway.
        self.vm.ns.run("ip", "addr", "add", f"{address}/16", "dev", "eth0")
        self.vm.ns.run("ip", "route", "add", "default", "via", router)
        self.assertEqual(self.vm.ping(router, count=3, interval=0.1), 3)
        self.assertEqual(counter(self.h1, "web1", "dhcp_offer"), 1)
        self.assertEqual(counter(self.h1, "web1", "dhcp_ack"), 1)


class Scenario5LiveMigration(vnetlab.LabTestCase, TwoHostsMixin):
    """A VM's NIC moves to the other host while a peer pings it every 10 ms:
    its interface is created there, its placement changed through the API."""
    prefix_len = 24
    gap_target = 0.200

    @classmethod
    def build(cls):
        c = cls.two_hosts()
        c.vm_network(0xb1, "Blue")
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24", 5001)
        cls.peer = cls.vm(c, 0x1b5, 0xb10, "peer", "10.0.0.5", "00:1d:d8:b7:1c:05", cls.h1)
        cls.mover = cls.vm(c, 0x1b7, 0xb10, "mover", "10.0.0.7", "00:1d:d8:b7:1c:07", cls.h1)
        cls.lab.start_agents([cls.h1, cls.h2])

    def test_traffic_resumes_within_the_bound(self):
        c = self.lab.controller
        ping = subprocess.Popen(["ip", "netns", "exec", self.peer.ns.name, "ping", "-n", "-D",
                                 "-i", "0.01", "-W", "1", "-c", "600", "10.0.0.7"],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(2.0)
        # The hypervisor's part: the VM's interface now lives on host 2.
        mover = self.mover
        mover.ns.run("ip", "link", "del", "eth0")  # and its peer on host 1
        vnetlab.sh("ip", "link", "add", "eth0", "netns", mover.ns.name, "address", mover.mac,
                   "type", "veth", "peer", "name", "mover", "netns", self.h2.ns.name)
        mover.ns.run("ethtool", "-K", "eth0", "tx", "off")
        mover.ns.run("sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1")
        mover.ns.run("ip", "addr", "add", "10.0.0.7/24", "dev", "eth0")
        mover.ns.run("ip", "link", "set", "eth0", "up")
        self.h2.ns.run("ip", "link", "set", "mover", "up")
        called = time.time()
        c.call("PATCH", f"/vm-nics/{uuid(0x1b7)}?wait=realized&timeout=10",
               {"host_id": self.h2.id, "interface": "mover"})
        realized = time.time() - called
        out, _ = ping.communicate(timeout=60)
        replies = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from",
                                                          out, re.M)]
        after = [t for t in replies if t > called]
        self.assertTrue(after, "no reply after the move")
        before = [t for t in replies if t <= called]
        gap = after[0] - max(before[-1] if before else called, called)
        sys.stderr.write(f"\nlive migration: first reply {gap * 1000:.0f} ms after the API "
                         f"call (realized after {realized * 1000:.0f} ms; target "
                         f"{self.gap_target * 1000:.0f} ms), {600 - len(replies)} of 600 "
                         f"pings lost\n")
        # Bounded: 35-80 ms measured, idle or busy (target 0.2 s; docs/benchmarks.md).
        self.assertLess(gap, 0.5, f"h1 {self.h1.counters()} h2 {self.h2.counters()}")
        self.assertGreater(counter(self.h2, "mover", "delivered_local") +
                           counter(self.h2, "uplink", "decapsulated"), 0)
        mover_state = c.call("GET", f"/vm-nics/{uuid(0x1b7)}")["configuration_state"]
        self.assertEqual(mover_state["status"], "success", mover_state)


class Scenario6RewriteBesideNvgre(vnetlab.LabTestCase, TwoHostsMixin):
    """Green uses IP rewrite while Blue uses NVGRE, side by side."""
    prefix_len = 24

    @classmethod
    def build(cls):
        c = cls.two_hosts()
        c.vm_network(0xb1, "Blue")
        c.vm_network(0x91, "Green", "rewrite", tenant=TENANT2)
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24", 5001)
        c.vm_subnet(0x910, 0x91, "10.0.0.0/24", 7001)  # the same CAs as Blue
        cls.blue5 = cls.vm(c, 0x1b5, 0xb10, "blue5", "10.0.0.5", "00:1d:d8:b7:1c:05", cls.h1)
        cls.blue7 = cls.vm(c, 0x1b7, 0xb10, "blue7", "10.0.0.7", "00:1d:d8:b7:1c:07", cls.h2)
        cls.green5 = cls.vm(c, 0x195, 0x910, "green5", "10.0.0.5", "00:1d:d8:b7:1c:35", cls.h1)
        cls.green7 = cls.vm(c, 0x197, 0x910, "green7", "10.0.0.7", "00:1d:d8:b7:1c:37", cls.h2)
        cls.lab.start_agents([cls.h1, cls.h2])

    def test_both_carry_their_own_traffic(self):
        for client, server in ((self.green5, self.green7), (self.blue5, self.blue7)):
            self.assertEqual(client.ping("10.0.0.7", count=5, interval=0.05), 5, client.name)
            sent, received = tcp_transfer(client, server, "10.0.0.7")
            self.assertEqual(sent, received, client.name)
        self.assertGreater(counter(self.h1, "green5", "rewritten"), 0)
        self.assertGreater(counter(self.h2, "uplink", "restored"), 0)
        self.assertEqual(counter(self.h1, "green5", "encapsulated"), 0)
        self.assertGreater(counter(self.h1, "blue5", "encapsulated"), 0)
        self.assertEqual(counter(self.h1, "blue5", "rewritten"), 0)


class Scenario7ControllerDown(vnetlab.LabTestCase, TwoHostsMixin):
    """Controller down: traffic keeps flowing on the last policy; controller
    back: agents resync and the realized generations catch up."""
    prefix_len = 24

    @classmethod
    def build(cls):
        c = cls.two_hosts()
        c.vm_network(0xb1, "Blue")
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24", 5001)
        cls.blue5 = cls.vm(c, 0x1b5, 0xb10, "blue5", "10.0.0.5", "00:1d:d8:b7:1c:05", cls.h1)
        cls.blue7 = cls.vm(c, 0x1b7, 0xb10, "blue7", "10.0.0.7", "00:1d:d8:b7:1c:07", cls.h2)
        cls.lab.start_agents([cls.h1, cls.h2])

    def test_traffic_survives_and_agents_resync(self):
        c = self.lab.controller
        self.assertEqual(c.stop(), 0)
        self.assertEqual(self.blue5.ping("10.0.0.7", count=20, interval=0.05), 20)
        sent, received = tcp_transfer(self.blue5, self.blue7, "10.0.0.7")
        self.assertEqual(sent, received)
        for host in (self.h1, self.h2):
            self.assertFalse(host.show("status")["connected"])
        c.start()
        for host in (self.h1, self.h2):
            h = host.wait_realized(timeout=40)  # the agents' backoff is at most 30 s
            self.assertTrue(h["connected"])
        # A change made after the restart reaches the hosts and carries traffic.
        c.vm_nic(0x1b9, 0xb10, "blue9", "00:1d:d8:b7:1c:09", "10.0.0.9", self.h2.id, "blue9")
        blue9 = self.lab.add_vm("blue9", self.h2, "blue9", "00:1d:d8:b7:1c:09", "10.0.0.9/24",
                                None)
        self.h2.wait_realized()
        self.assertEqual(self.blue5.ping("10.0.0.9", count=3, interval=0.2), 3)
        del blue9




def main():
    vnetlab.skip_unless_root("the seed scenarios")
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:])


if __name__ == "__main__":
    main()
