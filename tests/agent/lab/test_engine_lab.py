"""The AF_XDP engine in a lab of network namespaces (DESIGN.md section 5):
a real controller, two hosts with real agents, VMs as namespaces. Seed
scenario 2 (Blue VSID 5001 and Red VSID 6001 with 10.0.0.5 on host 1 and
10.0.0.7 on host 2, PAs in two routed subnets), a second Blue subnet
(VSID 5002) for routing, DHCP, ARP, isolation, policy updates under traffic
and hostile frames.

Needs root; skips (exit 77) otherwise, which VNET_REQUIRE_PRIVILEGED turns
into a failure. VNET_CONTROLLER_BINARY and VNET_AGENT_BINARY name the
binaries.
"""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vnetlab  # noqa: E402
from vnetlab import echo_requests_at, frames_at, tcp_transfer, uuid, wait_until  # noqa: E402

RED_TENANT = uuid(0xe000)


class EngineLab(vnetlab.LabTestCase):
    @classmethod
    def build(cls):
        lab = cls.lab
        c = lab.start_controller()
        h1 = lab.add_host("h1", "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24")
        h2 = lab.add_host("h2", "192.168.2.1/24", "10.98.2.1/24", "10.98.2.20/24")
        c.underlay(["192.168.1.0/24", "192.168.2.0/24"])
        c.call("PUT", f"/tenants/{RED_TENANT}", {"name": "red"})
        c.place_host(h1, 0x101, "192.168.1.10")
        c.place_host(h2, 0x102, "192.168.2.20")

        c.vm_network(0xb1, "Blue")
        c.vm_network(0xd1, "Red", tenant=RED_TENANT)
        dns = ["10.0.0.2"]
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24", 5001, ("10.0.0.5", "10.0.0.50"), dns)
        c.vm_subnet(0xb20, 0xb1, "10.0.1.0/24", 5002, ("10.0.1.5", "10.0.1.50"), dns)
        c.vm_subnet(0xd10, 0xd1, "10.0.0.0/24", 6001, ("10.0.0.5", "10.0.0.50"), dns)
        # Green uses IP rewrite instead of NVGRE, beside Blue and Red.
        # Cyan: another tenant's network whose VSID equals Blue's 5001 in its
        # low 16 bits (70537 = 5001 + 2^16), with Blue 7's address on host 2.
        c.vm_network(0xc1, "Cyan", tenant=RED_TENANT)
        c.vm_subnet(0xc10, 0xc1, "10.0.0.0/24", 5001 + (1 << 16), ("10.0.0.5", "10.0.0.50"), dns)
        c.vm_network(0x91, "Green", "rewrite")
        c.vm_subnet(0x910, 0x91, "10.1.0.0/24", 7001, ("10.1.0.5", "10.1.0.50"), dns)

        cls.nics = {}

        def nic(name, n, subnet_n, ip, mac, host, interface):
            got = c.vm_nic(n, subnet_n, name, mac, ip, host.id, interface)
            gateway = {0xb20: "10.0.1.1", 0x910: "10.1.0.1"}.get(subnet_n, "10.0.0.1")
            vm = lab.add_vm(name, host, interface, mac, f"{got['ip']}/24" if ip else None,
                            gateway if ip else None)
            vm.nic = got
            cls.nics[name] = got
            return vm

        cls.blue5 = nic("blue5", 0x1b5, 0xb10, "10.0.0.5", "00:1d:d8:b7:1c:05", h1, "b5")
        cls.red5 = nic("red5", 0x1d5, 0xd10, "10.0.0.5", "00:1d:d8:b7:1c:15", h1, "r5")
        cls.blue8 = nic("blue8", 0x1b8, 0xb10, "10.0.0.8", "00:1d:d8:b7:1c:08", h1, "b8")
        cls.blue7 = nic("blue7", 0x1b7, 0xb10, "10.0.0.7", "00:1d:d8:b7:1c:07", h2, "b7")
        cls.red7 = nic("red7", 0x1d7, 0xd10, "10.0.0.7", "00:1d:d8:b7:1c:17", h2, "r7")
        cls.blue9 = nic("blue9", 0x1b9, 0xb20, "10.0.1.9", "00:1d:d8:b7:1c:29", h2, "c9")
        cls.cyan7 = nic("cyan7", 0x1c7, 0xc10, "10.0.0.7", "00:1d:d8:b7:1c:47", h2, "y7")
        cls.green5 = nic("green5", 0x195, 0x910, "10.1.0.5", "00:1d:d8:b7:1c:35", h1, "g5")
        cls.green7 = nic("green7", 0x197, 0x910, "10.1.0.7", "00:1d:d8:b7:1c:37", h2, "g7")
        # A VM without an address: it asks DHCP for the one the pool gave its NIC.
        cls.dhcp = nic("dhcp6", 0x1b6, 0xb10, None, "00:1d:d8:b7:1c:06", h1, "d6")
        cls.h1, cls.h2 = h1, h2

        lab.start_agents([h1, h2])

    # --- helpers --------------------------------------------------------

    def counter(self, host, port, name):
        return host.counters().get(port, {}).get(name, 0)

    # --- traffic --------------------------------------------------------

    def test_ping_across_hosts_in_both_vsids_with_the_same_addresses(self):
        self.assertEqual(self.blue5.ping("10.0.0.7"), 3)
        self.assertEqual(self.red5.ping("10.0.0.7"), 3)
        self.assertEqual(self.blue7.ping("10.0.0.5"), 3)
        self.assertGreater(self.counter(self.h1, "b5", "encapsulated"), 0)
        self.assertGreater(self.counter(self.h2, "uplink", "decapsulated"), 0)

    def test_blue_never_reaches_red_even_with_identical_addresses(self):
        # Red's echoes to 10.0.0.7 all reach Red 7 and none Blue 7 (the same
        # address, another VSID): captures on the VMs' own interfaces say so.
        replies = []
        seen = echo_requests_at(self.blue7, lambda: replies.append(
            self.red5.ping("10.0.0.7", count=20, interval=0.01)))
        self.assertEqual((replies, seen), ([20], 0))
        # Red cannot reach Blue's other subnet: no route in Red's RDID.
        before = self.counter(self.h1, "r5", "no_route")
        seen = echo_requests_at(self.blue9, lambda: replies.append(
            self.red5.ping("10.0.1.9", count=3, interval=0.05)))
        self.assertEqual((replies[-1], seen), (0, 0))
        self.assertEqual(self.counter(self.h1, "r5", "no_route") - before, 3)

    def test_a_frame_for_another_tenants_mac_never_crosses_vsids(self):
        # The attack of issue 14: Blue 5 (VSID 5001, host 1) sends to its own
        # peer's CA 10.0.0.7 on host 2 with Cyan 7's MAC as the Ethernet
        # destination (another tenant, VSID 70537 = 5001 + 2^16, on host 2).
        # Host 1 sends the record's MAC instead and host 2 looks the
        # destination up by the whole VSID: all 40 reach Blue 7, none Cyan 7.
        at_cyan, at_blue = frames_at(
            [self.cyan7, self.blue7], "udp port 4444",
            lambda: self.blue5.ns.python(SEND_TO_MAC, "00:1d:d8:b7:1c:05", self.cyan7.mac,
                                         "10.0.0.5", "10.0.0.7", "40"))
        self.assertEqual((at_cyan, at_blue), (0, 40))
        # The same frames straight onto the underlay (NVGRE VSID 5001 from
        # host 2's PA, inner destination Cyan 7): host 2's port ACL drops them.
        before = self.counter(self.h2, "uplink", "vsid_mismatch")
        at_cyan, = frames_at([self.cyan7], "udp port 4444",
                             lambda: self.lab.underlay.python(NVGRE_TO_MAC, "h2-ul",
                                                              "192.168.1.10", "192.168.2.20",
                                                              str(5001), self.cyan7.mac, "40"))
        self.assertEqual(at_cyan, 0)
        self.assertEqual(self.counter(self.h2, "uplink", "vsid_mismatch") - before, 40)
        # Cyan's own traffic is untouched.
        self.assertEqual(self.blue5.ping("10.0.0.7"), 3)

    def test_nvgre_from_a_pa_without_records_of_the_network_is_dropped(self):
        # 192.168.2.99 is on host 2's subnet but no host of Blue's network.
        before = self.counter(self.h1, "uplink", "unknown_source_pa")
        at_blue, = frames_at([self.blue5], "udp port 4444",
                             lambda: self.lab.underlay.python(NVGRE_TO_MAC, "h1-ul",
                                                              "192.168.2.99", "192.168.1.10",
                                                              str(5001), self.blue5.mac, "10"))
        self.assertEqual(at_blue, 0)
        self.assertEqual(self.counter(self.h1, "uplink", "unknown_source_pa") - before, 10)

    def test_a_nic_on_a_reserved_interface_is_refused_and_the_host_stays_up(self):
        c = self.lab.controller
        nic = uuid(0x3f0)
        c.call("PUT", f"/vm-nics/{nic}", {"vm_subnet_id": uuid(0xb10), "vm_name": "evil"})
        try:
            # The controller knows host 1's uplink from its agent: refused there.
            out = c.call("PATCH", f"/vm-nics/{nic}",
                         {"host_id": self.h1.id, "interface": "uplink"}, expect=400)
            self.assertIn("uplink", json.dumps(out))
            # Loopback is refused by the agent itself.
            c.call("PATCH", f"/vm-nics/{nic}", {"host_id": self.h1.id, "interface": "lo"})

            def failed():
                st = c.call("GET", f"/vm-nics/{nic}")["configuration_state"]
                return st if st["status"] == "failure" else None

            st = wait_until(failed, timeout=15, what="interface_reserved on the NIC")
            self.assertEqual([d["code"] for d in st["detail"]], ["interface_reserved"], st)
            self.assertNotIn("lo", self.h1.counters())  # no socket there
            self.assertEqual(self.blue5.ping("10.0.0.7"), 3)
        finally:
            c.call("DELETE", f"/vm-nics/{nic}")

    def test_routing_between_two_vsids_of_one_rdid(self):
        self.assertEqual(self.blue5.ping("10.0.1.9"), 3)
        self.assertGreater(self.counter(self.h1, "b5", "routed_encapsulated"), 0)
        # The TTL went down by one on the way (64 -> 63 seen by blue9's reply path).
        out = self.blue5.ns.run("ping", "-n", "-c", "1", "-W", "1", "10.0.1.9")
        self.assertIn("ttl=63", out)

    def test_tcp_transfer_across_hosts_arrives_intact(self):
        sent, received = tcp_transfer(self.blue5, self.blue7, "10.0.0.7")
        self.assertEqual(sent, received)  # sha256 of 4 MiB, both ways

    def test_same_vsid_on_one_host_never_leaves_it(self):
        uplink_before = self.counter(self.h1, "uplink", "tx_packets")
        delivered_before = self.counter(self.h1, "b5", "delivered_local")
        self.assertEqual(self.blue5.ping("10.0.0.8", count=5, interval=0.05), 5)
        sent, received = tcp_transfer(self.blue5, self.blue8, "10.0.0.8")
        self.assertEqual(sent, received)
        self.assertGreater(self.counter(self.h1, "b5", "delivered_local") - delivered_before, 5)
        # Nothing of it went out of the uplink (a few ARP refreshes at most).
        self.assertLess(self.counter(self.h1, "uplink", "tx_packets") - uplink_before, 5)

    def test_udp_to_another_vm_on_the_same_host_stays_local(self):
        before = self.counter(self.h2, "c9", "delivered_local") + self.counter(
            self.h2, "c9", "routed_local")
        self.blue9.ns.python(UDP_SEND, "10.0.0.7")
        after = self.counter(self.h2, "c9", "delivered_local") + self.counter(
            self.h2, "c9", "routed_local")
        self.assertGreater(after, before)  # routed 5002 -> 5001 inside host 2

    def test_dhcp_gives_the_pool_address(self):
        out = self.dhcp.ns.python(DHCP_OFFER_AND_ACK, self.dhcp.mac, timeout=30, check=False)
        self.assertEqual(len(out.split()), 2, f"no answers: {self.h1.counters().get('d6')}")
        offer, ack = out.split()
        self.assertEqual(offer, self.dhcp.nic["ip"])
        self.assertEqual(ack, self.dhcp.nic["ip"])
        self.assertEqual(self.dhcp.nic["ip"], "10.0.0.6")  # the pool's lowest free address

    def test_arp_for_an_unknown_address_gets_no_answer(self):
        before = self.counter(self.h1, "b5", "arp_unknown")
        out = self.blue5.ns.python(ARP_ASK, "10.0.0.99", "00:1d:d8:b7:1c:05", "10.0.0.5")
        self.assertEqual(out.strip(), "none")
        self.assertEqual(self.counter(self.h1, "b5", "arp_unknown") - before, 1)
        out = self.blue5.ns.python(ARP_ASK, "10.0.0.7", "00:1d:d8:b7:1c:05", "10.0.0.5")
        self.assertEqual(out.strip(), "00:1d:d8:b7:1c:07")

    def test_policy_update_during_traffic_loses_nothing(self):
        flood = self.blue5.ns.popen(["ping", "-n", "-q", "-c", "300", "-i", "0.01", "10.0.0.7"],
                                    os.path.join(self.lab.dir, "flood.log"))
        c = self.lab.controller
        # New NICs on both hosts: new generations while Blue 5 -> Blue 7 flows.
        for i in range(4):
            c.call("PUT", f"/vm-nics/{uuid(0x300 + i)}", {
                "vm_subnet_id": uuid(0xd10), "vm_name": f"extra{i}"})
            c.call("PATCH", f"/vm-nics/{uuid(0x300 + i)}",
                   {"host_id": (self.h1 if i % 2 else self.h2).id, "interface": f"x{i}"})
        flood.wait(timeout=30)
        log = self.lab.log("flood.log")
        self.assertIn("300 received", log, log)
        for i in range(4):
            c.call("DELETE", f"/vm-nics/{uuid(0x300 + i)}")

    def test_ip_rewrite_beside_nvgre(self):
        # Each Green NIC owns a PA in its host's subnet; no GRE on the wire.
        self.assertEqual(self.green5.nic["pa"], "192.168.1.11")
        self.assertEqual(self.green7.nic["pa"], "192.168.2.10")
        sniffer = self.lab.underlay.popen(
            [vnetlab.PYTHON, "-c", SNIFF, "h1-ul", "ip and (host 192.168.1.11 or proto gre)", "6"],
            os.path.join(self.lab.dir, "sniff.log"))
        time.sleep(1.0)  # the sniffer is listening
        self.assertEqual(self.green5.ping("10.1.0.7"), 3)
        self.assertEqual(self.blue5.ping("10.0.0.7"), 3)  # NVGRE at the same time
        sniffer.wait(timeout=20)
        seen = self.lab.log("sniff.log").split()
        self.assertIn("192.168.1.11>192.168.2.10:icmp", seen)  # rewritten, not encapsulated
        self.assertIn("192.168.2.10>192.168.1.11:icmp", seen)
        self.assertIn("192.168.1.10>192.168.2.20:gre", seen)  # Blue's, from the host PA
        self.assertGreater(self.counter(self.h1, "g5", "rewritten"), 0)
        self.assertGreater(self.counter(self.h1, "uplink", "restored"), 0)
        # The engine answered the underlay's ARP for its rewrite PA.
        self.assertGreater(self.counter(self.h1, "uplink", "arp_reply_uplink") +
                           self.counter(self.h2, "uplink", "arp_reply_uplink"), 0)
        # TCP through rewrite: checksums fixed incrementally, content intact.
        sent, received = tcp_transfer(self.green5, self.green7, "10.1.0.7")
        self.assertEqual(sent, received)

    def test_vm_port_that_goes_away_and_comes_back(self):
        c = self.lab.controller
        nic = self.nics["red7"]

        def state():
            return c.call("GET", f"/vm-nics/{nic['id']}")["configuration_state"]

        self.assertEqual(state()["status"], "success")
        self.h2.ns.run("ip", "link", "del", "r7")  # the VM's interface is gone (and its peer)
        st = vnetlab.wait_until(lambda: state() if state()["status"] == "failure" else None,
                                timeout=10, what="interface_missing on the NIC")
        self.assertEqual([d["code"] for d in st["detail"]], ["interface_missing"], st)
        self.assertNotIn("r7", self.h2.counters())  # its socket is released
        # The orchestrator creates it again: bound, realized, forwarding.
        sh = vnetlab.sh
        sh("ip", "link", "add", "eth0", "netns", self.red7.ns.name, "address", self.red7.mac,
           "type", "veth", "peer", "name", "r7", "netns", self.h2.ns.name)
        self.red7.ns.run("ethtool", "-K", "eth0", "tx", "off")
        self.red7.ns.run("ip", "addr", "add", "10.0.0.7/24", "dev", "eth0")
        self.red7.ns.run("ip", "link", "set", "eth0", "up")
        self.h2.ns.run("ip", "link", "set", "r7", "up")
        vnetlab.wait_until(lambda: state()["status"] == "success", timeout=10,
                           what="the NIC realized again")
        self.assertEqual(self.red5.ping("10.0.0.7", count=3, interval=0.2), 3)

    def test_hostile_frames_are_dropped_and_counted(self):
        port = self.counter
        before = {k: port(self.h1, "b5", k) for k in
                  ("spoofed_mac", "spoofed_ip", "ip_options", "ip_fragment", "too_big",
                   "truncated", "icmp_frag_needed")}
        self.blue5.ns.python(HOSTILE_FROM_VM)
        wait_until(lambda: port(self.h1, "b5", "icmp_frag_needed") > before["icmp_frag_needed"],
                   what="the hostile frames to be counted")
        for k, v in before.items():
            self.assertGreater(port(self.h1, "b5", k), v, k)

        up = {k: port(self.h1, "uplink", k) for k in
              ("gre_bad_header", "unknown_vsid", "vsid_mismatch", "truncated")}
        self.lab.underlay.python(HOSTILE_FROM_UNDERLAY, "h1-ul")
        wait_until(lambda: port(self.h1, "uplink", "vsid_mismatch") > up["vsid_mismatch"],
                   what="the hostile NVGRE to be counted")
        for k, v in up.items():
            self.assertGreater(port(self.h1, "uplink", k), v, k)
        # The engine is alive and still forwards.
        self.assertEqual(self.blue5.ping("10.0.0.7"), 3)


class UnderlayMtuLab(vnetlab.LabTestCase):
    """Issue 18: hosts whose uplinks carry 1542 bytes. Each agent reports
    its uplink's MTU; the controller compiles uplink MTU - 42, so VMs are
    told 1500 and a 1500-byte packet that must not be fragmented crosses
    hosts in NVGRE."""

    @classmethod
    def build(cls):
        lab = cls.lab
        c, (h1, h2), cls.vms = lab.blue_on_two_hosts(("m1", "m2"), (
            ("blue5", 0x1b5, "10.0.0.5", "00:1d:d8:b7:1c:05", 0, "b5"),
            ("blue7", 0x1b7, "10.0.0.7", "00:1d:d8:b7:1c:07", 1, "b7"),
            ("dhcp6", 0x1b6, None, "00:1d:d8:b7:1c:06", 0, "d6")), mtu=1542)
        cls.h1, cls.h2, cls.c = h1, h2, c
        lab.start_agents([h1, h2])

    def reported(self, host, mtu, timeout=10):
        """Until the controller shows the host's uplink_mtu as `mtu` and the
        host has realized the policy compiled from it."""
        wait_until(lambda: self.c.call("GET", f"/hosts/{host.id}").get("uplink_mtu") == mtu,
                   what=f"{host.name}'s uplink_mtu {mtu}", timeout=timeout)
        host.wait_realized()

    def test_hosts_show_the_uplink_mtu_their_agents_reported(self):
        for host in (self.h1, self.h2):
            self.reported(host, 1542)

    def test_dhcp_tells_the_vm_1500(self):
        vm = self.vms["dhcp6"]
        self.reported(self.h1, 1542)
        address, _, _, mtu = vm.ns.python(vnetlab.DHCP_CLIENT, vm.mac, timeout=30).split()
        self.assertEqual((address, mtu), (vm.nic["ip"], "1500"))

    def test_a_1500_byte_packet_that_must_not_fragment_crosses_hosts(self):
        for host in (self.h1, self.h2):
            self.reported(host, 1542)
        out = self.vms["blue5"].ns.run("ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2",
                                       "-M", "do", "-s", "1472", "10.0.0.7", check=False)
        self.assertIn(" 3 received", out, out)

    def test_the_uplink_mtu_changing_under_a_running_agent_reaches_the_controller(self):
        def set_mtu(mtu):
            self.h1.ns.run("ip", "link", "set", "uplink", "mtu", str(mtu))
            self.lab.underlay.run("ip", "link", "set", "m1-ul", "mtu", str(mtu))
        try:
            set_mtu(1600)
            self.reported(self.h1, 1600, timeout=30)
            self.assertEqual([p["mtu"] for p in self.h1.show("policy")["ports"]], [1558, 1558])
        finally:
            set_mtu(1542)
            self.reported(self.h1, 1542, timeout=30)



class JumboLab(vnetlab.LabTestCase):
    """Issue 18: a 9000-byte underlay. Agents report 9000, VMs are told 8958,
    and packets of up to 8958 bytes cross hosts in NVGRE frames of 9014
    bytes, more than one 4,096-byte UMEM frame holds: the sockets receive
    and send them in several frames (AF_XDP multi-buffer) and the engine
    runs them through the pipeline whole."""

    @classmethod
    def build(cls):
        lab = cls.lab
        c, (h1, h2), cls.vms = lab.blue_on_two_hosts(("j1", "j2"), (
            ("blue5", 0x1b5, "10.0.0.5", "00:1d:d8:b7:1c:05", 0, "b5"),
            ("blue6", 0x1b6, "10.0.0.6", "00:1d:d8:b7:1c:06", 0, "b6"),
            ("blue7", 0x1b7, "10.0.0.7", "00:1d:d8:b7:1c:07", 1, "b7")), mtu=9000, vm_mtu=8958)
        cls.h1, cls.h2, cls.c = h1, h2, c
        lab.start_agents([h1, h2])
        for host in (h1, h2):
            wait_until(lambda: c.call("GET", f"/hosts/{host.id}").get("uplink_mtu") == 9000,
                       what=f"{host.name}'s uplink_mtu 9000", timeout=20)
            host.wait_realized()

    def test_ports_are_told_the_uplink_less_nvgre(self):
        ports = self.h1.show("ports")
        self.assertEqual({p["interface"]: p["mtu"] for p in ports}, {"b5": 8958, "b6": 8958})

    def test_the_largest_packet_that_must_not_fragment_crosses_hosts_both_ways(self):
        before = self.h1.counters()["uplink"]["rx_packets"]
        out = self.vms["blue5"].ns.run("ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "2",
                                       "-M", "do", "-s", "8930", "10.0.0.7", check=False)
        self.assertIn(" 5 received", out, out)
        self.assertGreaterEqual(self.h1.counters()["uplink"]["rx_packets"] - before, 5)

    def test_a_frame_larger_than_the_engine_carries_is_dropped_as_too_big(self):
        # A VM whose interface allows 20000 bytes sends 18,028 bytes with DF:
        # five UMEM frames, more than the thread's 16 KiB buffer. The engine
        # drops it before the pipeline (which would answer "fragmentation
        # needed" for anything up to that size) and counts it.
        vm = self.vms["blue6"]
        mtus = ((vm.ns, "eth0"), (self.h1.ns, "b6"))
        before = self.h1.counters()["b6"]
        try:
            for ns, interface in mtus:
                ns.run("ip", "link", "set", interface, "mtu", "20000")
            out = vm.ns.run("ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", "-M", "do",
                            "-s", "18000", "10.0.0.7", check=False)
        finally:
            for ns, interface in mtus:
                ns.run("ip", "link", "set", interface, "mtu", "8958")
        self.assertIn(" 0 received", out, out)
        after = self.h1.counters()["b6"]
        self.assertEqual(after.get("too_big", 0) - before.get("too_big", 0), 2, after)
        self.assertEqual(after.get("icmp_frag_needed", 0), before.get("icmp_frag_needed", 0))

    def test_jumbo_tcp_arrives_intact_across_hosts_and_on_one_host(self):
        for server, address in (("blue7", "10.0.0.7"), ("blue6", "10.0.0.6")):
            sent, received = tcp_transfer(self.vms["blue5"], self.vms[server], address)
            self.assertEqual(sent, received, server)


SNIFF = r"""
import sys
from scapy.all import IP, sniff
def show(p):
    if IP not in p:
        return
    kind = {1: "icmp", 6: "tcp", 47: "gre"}.get(p[IP].proto, str(p[IP].proto))
    print(f"{p[IP].src}>{p[IP].dst}:{kind}", flush=True)
sniff(iface=sys.argv[1], filter=sys.argv[2], timeout=float(sys.argv[3]), prn=show, store=False)
"""

UDP_SEND = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5): s.sendto(b"x" * 100, (sys.argv[1], 9))
"""

DHCP_OFFER_AND_ACK = r"""
import sys
from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, srp1, mac2str
conf.verb = 0
conf.checkIPaddr = False  # the answer comes from the server, not from 255.255.255.255
mac = sys.argv[1]
base = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
offer = srp1(base / BOOTP(chaddr=mac2str(mac), xid=77, flags=0x8000) /
             DHCP(options=[("message-type", "discover"), "end"]), iface="eth0", timeout=5)
yi = offer[BOOTP].yiaddr
server = dict(o for o in offer[DHCP].options if isinstance(o, tuple))["server_id"]
ack = srp1(base / BOOTP(chaddr=mac2str(mac), xid=78, flags=0x8000) /
           DHCP(options=[("message-type", "request"), ("requested_addr", yi), ("server_id", server), "end"]),
           iface="eth0", timeout=5)
print(yi, ack[BOOTP].yiaddr)
"""

ARP_ASK = r"""
import sys
from scapy.all import ARP, Ether, conf, srp1
conf.verb = 0
r = srp1(Ether(src=sys.argv[2], dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=sys.argv[2], psrc=sys.argv[3], pdst=sys.argv[1]),
         iface="eth0", timeout=1)
print(r[ARP].hwsrc if r else "none")
"""

SEND_TO_MAC = r"""
import sys
from scapy.all import IP, UDP, Ether, Raw, conf, sendp
conf.verb = 0
me, dst_mac, src, dst, n = sys.argv[1:6]
sendp([Ether(src=me, dst=dst_mac) / IP(src=src, dst=dst) / UDP(sport=4444, dport=4444) /
       Raw(b"cross-tenant")] * int(n), iface="eth0", inter=0.005)
"""

NVGRE_TO_MAC = r"""
import sys
from scapy.all import GRE, IP, UDP, Ether, Raw, conf, get_if_hwaddr, sendp, getmacbyip
conf.verb = 0
iface, src_pa, dst_pa, vsid, dst_mac, n = sys.argv[1:7]
inner = (Ether(src="00:1d:d8:b7:1c:07", dst=dst_mac) / IP(src="10.0.0.7", dst="10.0.0.5") /
         UDP(sport=4444, dport=4444) / Raw(b"cross-tenant"))
outer = (Ether(src=get_if_hwaddr(iface), dst=getmacbyip(dst_pa) or "ff:ff:ff:ff:ff:ff") /
         IP(src=src_pa, dst=dst_pa, flags="DF"))
sendp([outer / GRE(key_present=1, key=int(vsid) << 8, proto=0x6558) / inner] * int(n),
      iface=iface, inter=0.005)
"""

HOSTILE_FROM_VM = r"""
from scapy.all import ICMP, IP, IPOption_NOP, UDP, Ether, Raw, conf, sendp
conf.verb = 0
me, peer = "00:1d:d8:b7:1c:05", "00:1d:d8:b7:1c:07"
frames = [
    Ether(src="02:00:00:00:00:66", dst=peer) / IP(src="10.0.0.5", dst="10.0.0.7") / UDP(),
    Ether(src=me, dst=peer) / IP(src="10.0.0.6", dst="10.0.0.7") / UDP(),
    Ether(src=me, dst=peer) / IP(src="10.0.0.5", dst="10.0.0.7", options=[IPOption_NOP()] * 4) / UDP(),
    Ether(src=me, dst=peer) / IP(src="10.0.0.5", dst="10.0.0.7", flags="MF") / UDP(),
    Ether(src=me, dst=peer) / IP(src="10.0.0.5", dst="10.0.0.7", flags=0) / UDP() / Raw(b"x" * 1431),
    Ether(bytes(Ether(src=me, dst=peer) / IP(src="10.0.0.5", dst="10.0.0.7") / UDP())[:20]),
    Ether(src=me, dst=peer) / IP(src="10.0.0.5", dst="10.0.0.7", flags="DF") / UDP() / Raw(b"x" * 1431),
]
sendp(frames, iface="eth0")
"""

HOSTILE_FROM_UNDERLAY = r"""
import sys
from scapy.all import GRE, IP, UDP, Ether, Raw, conf, get_if_hwaddr, sendp, getmacbyip
conf.verb = 0
iface = sys.argv[1]
inner_blue = Ether(src="00:1d:d8:b7:1c:07", dst="00:1d:d8:b7:1c:05") / IP(src="10.0.0.7", dst="10.0.0.5") / UDP()
outer = Ether(src=get_if_hwaddr(iface), dst=getmacbyip("192.168.1.10") or "ff:ff:ff:ff:ff:ff") / IP(src="192.168.2.20", dst="192.168.1.10")
frames = [
    outer / GRE(key_present=1, chksum_present=1, key=5001 << 8, proto=0x6558) / inner_blue,
    outer / GRE(key_present=1, seqnum_present=1, key=5001 << 8, seqence_number=1, proto=0x6558) / inner_blue,
    outer / GRE(key_present=1, version=1, key=5001 << 8, proto=0x6558) / inner_blue,
    outer / GRE(key_present=1, key=9999 << 8, proto=0x6558) / inner_blue,
    outer / GRE(key_present=1, key=6001 << 8, proto=0x6558) / inner_blue,
    Ether(bytes(outer / GRE(key_present=1, key=5001 << 8, proto=0x6558))[:38]),
]
sendp(frames, iface=iface)
"""


class CleanShutdown(unittest.TestCase):
    """An agent that stops detaches the XDP programs it attached, removes the
    PA and routes it added, and touches nothing else."""

    def test_stop_leaves_the_host_as_it_was(self):
        with vnetlab.Lab.from_environment() as lab:
            c = lab.start_controller()
            h1 = lab.add_host("h1", "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24")
            c.underlay(["192.168.1.0/24"])
            c.place_host(h1, 0x101, "192.168.1.10")
            c.vm_network(0xb1, "Blue")
            c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24")
            c.vm_nic(0x1b5, 0xb10, "b5", "00:1d:d8:b7:1c:05", "10.0.0.5", h1.id, "b5")
            vm = lab.add_vm("b5", h1, "b5", "00:1d:d8:b7:1c:05", "10.0.0.5/24", None)
            # Someone else's XDP program on another interface of the host.
            h1.ns.run("ip", "link", "add", "other", "type", "veth", "peer", "name", "other1")
            h1.ns.run("ip", "link", "set", "other", "xdpgeneric", "object",
                      os.environ["VNET_SINK_OBJECT"], "section", "xdp")
            before_routes = h1.ns.run("ip", "route", "show")
            h1.start_agent("10.98.1.1:6641", c.call("POST", f"/hosts/{h1.id}/enrollment"))
            wait_until(lambda: c.call("GET", f"/hosts/{h1.id}")["realized_generation"] > 0,
                       timeout=20, what="realized")
            self.assertIn("xdp", h1.ns.run("ip", "link", "show", "uplink"))
            self.assertIn("xdp", h1.ns.run("ip", "link", "show", "b5"))
            self.assertIn("192.168.1.10/24", h1.ns.run("ip", "addr", "show", "uplink"))
            self.assertIn("default via 192.168.1.1", h1.ns.run("ip", "route", "show"))
            self.assertEqual(h1.stop_agent(), 0)
            self.assertNotIn("xdp", h1.ns.run("ip", "link", "show", "uplink"))
            self.assertNotIn("xdp", h1.ns.run("ip", "link", "show", "b5"))
            self.assertIn("xdpgeneric", h1.ns.run("ip", "link", "show", "other"))  # not ours
            self.assertNotIn("192.168.1.10", h1.ns.run("ip", "addr", "show", "uplink"))
            self.assertIn("10.98.1.10/24", h1.ns.run("ip", "addr", "show", "uplink"))
            self.assertEqual(h1.ns.run("ip", "route", "show"), before_routes)
            del vm


def main():
    vnetlab.skip_unless_root("the engine lab")
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:])


if __name__ == "__main__":
    main()
