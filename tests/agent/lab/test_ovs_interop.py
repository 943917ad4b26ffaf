"""Interoperability with an NVGRE peer vnet did not write: Open vSwitch's
userspace datapath with a `gre` port (key VSID << 8, FlowID 0), as an
operator running OVS on some hosts would have it (DESIGN.md section 4).

Host 1 runs vnet (controller and agent, AF_XDP); host 3 runs Open vSwitch
with a VM on br-int. The controller knows the OVS-side VM as a NIC placed
on a host with the OVS endpoint's PA, so host 1's policy has its lookup
record. Traffic must flow both ways: vnet's VM pings the OVS VM and the OVS
VM pings vnet's, a TCP transfer arrives intact, and the OVS VM's ARP request,
flooded into the tunnel by OVS, is answered by the vnet host.

Needs root and Debian's openvswitch-switch; skips (exit 77) otherwise.
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vnetlab  # noqa: E402
from vnetlab import tcp_transfer  # noqa: E402

VSID = 5001


class OvsInterop(vnetlab.LabTestCase):
    @classmethod
    def build(cls):
        lab = cls.lab
        c = lab.start_controller()
        h1 = lab.add_host("h1", "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24")
        h3 = lab.add_host("h3", "192.168.3.1/24", "10.98.3.1/24", "10.98.3.30/24")
        c.underlay(["192.168.1.0/24", "192.168.3.0/24"])
        c.place_host(h1, 0x101, "192.168.1.10")
        c.place_host(h3, 0x103, "192.168.3.30")  # the OVS host: no agent, only its PA
        c.vm_network(0xb1, "Blue")
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24", VSID)
        for n, name, ip, mac, host, interface in (
                (0x1b5, "blue5", "10.0.0.5", "00:1d:d8:b7:1c:05", h1, "b5"),
                (0x1b8, "ovs8", "10.0.0.8", "00:1d:d8:b7:1c:08", h3, "o8")):
            c.vm_nic(n, 0xb10, name, mac, ip, host.id, interface)
            lab.add_vm(name, host, interface, mac, f"{ip}/24", "10.0.0.1")
        cls.vnet_vm, cls.ovs_vm = lab.vms["blue5"], lab.vms["ovs8"]
        # OVS does not shrink the inner MTU: its VMs must use uplink MTU - 42,
        # as vnet's own VMs learn by DHCP (option 26).
        cls.ovs_vm.ns.run("ip", "link", "set", "eth0", "mtu", "1458")

        cls.ovs = vnetlab.OvsSwitch(lab, h3, "192.168.3.30/24", "192.168.3.1")
        cls.ovs.add_vm_port("o8")
        cls.ovs.add_gre_port("gre0", "192.168.1.10", VSID << 8)

        lab.start_agents([h1])
        cls.h1 = h1

    def counter(self, port, name):
        return self.h1.counters().get(port, {}).get(name, 0)

    def test_traffic_flows_both_ways(self):
        # OVS's VM first: its ARP request is flooded into the tunnel.
        self.assertEqual(self.ovs_vm.ping("10.0.0.5", count=5, interval=0.2, timeout=2), 5,
                         self.ovs.appctl("tnl/arp/show") + self.ovs.appctl("ovs/route/show"))
        self.assertGreater(self.counter("uplink", "arp_reply_tunnel"), 0)
        self.assertGreater(self.counter("uplink", "decapsulated"), 0)
        self.assertEqual(self.vnet_vm.ping("10.0.0.8", count=5, interval=0.2), 5)
        self.assertGreater(self.counter("b5", "encapsulated"), 0)

    def test_tcp_transfer_from_ovs_to_vnet(self):
        sent, received = tcp_transfer(self.ovs_vm, self.vnet_vm, "10.0.0.5", timeout=90)
        self.assertEqual(sent, received)


def main():
    vnetlab.skip_unless_root("the OVS interop test")
    if not shutil.which("ovs-vswitchd"):
        print("SKIP: the OVS interop test needs Open vSwitch (Debian's openvswitch-switch; "
              "scripts/setup installs it)")
        sys.exit(1 if os.environ.get("VNET_REQUIRE_PRIVILEGED") == "1" else 77)
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:])


if __name__ == "__main__":
    main()
