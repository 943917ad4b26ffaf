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
from test_engine_lab import LN, SITE, BLUE_TENANT, TCP_CLIENT, TCP_SERVER, uuid  # noqa: E402

VSID = 5001


class OvsInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lab = vnetlab.Lab(os.environ["VNET_CONTROLLER_BINARY"],
                              os.environ["VNET_AGENT_BINARY"],
                              keep_logs_in=os.environ.get("VNET_LAB_LOGS"))
        cls.lab.__enter__()
        try:
            cls.build()
        except BaseException:
            for name in ("controller.log", "agent-h1.log"):
                sys.stderr.write(f"--- {name}\n" + cls.lab.log(name)[-4000:])
            cls.lab.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.lab.close()

    @classmethod
    def build(cls):
        lab = cls.lab
        c = lab.start_controller()
        h1 = lab.add_host("h1", "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24")
        h3 = lab.add_host("h3", "192.168.3.1/24", "10.98.3.1/24", "10.98.3.30/24")
        c.call("PUT", f"/logical-networks/{LN}", {"name": "dc", "network_virtualization": True})
        c.call("PUT", f"/tenants/{BLUE_TENANT}", {"name": "blue"})
        c.call("PUT", f"/sites/{SITE}", {"logical_network_id": LN, "name": "lab", "subnets": [
            {"prefix": "192.168.1.0/24"}, {"prefix": "192.168.3.0/24"}]})
        c.call("PUT", f"/ip-pools/{uuid(0xa01)}", {
            "site_id": SITE, "subnet": "192.168.1.0/24",
            "ranges": [{"start": "192.168.1.10", "end": "192.168.1.99"}], "gateway": "192.168.1.1"})
        h1.id, h3.id = uuid(0x101), uuid(0x103)
        c.call("PUT", f"/hosts/{h1.id}", {"name": "h1", "site_id": SITE, "pa": "192.168.1.10"})
        c.call("PUT", f"/hosts/{h3.id}", {"name": "ovs", "site_id": SITE, "pa": "192.168.3.30"})
        c.call("PUT", f"/vm-networks/{uuid(0xb1)}", {"tenant_id": BLUE_TENANT, "name": "Blue",
                                                     "logical_network_id": LN})
        c.call("PUT", f"/vm-subnets/{uuid(0xb10)}", {"vm_network_id": uuid(0xb1), "name": "s",
                                                     "prefix": "10.0.0.0/24", "vsid": VSID})
        c.call("PUT", f"/ip-pools/{uuid(0xb11)}", {"vm_subnet_id": uuid(0xb10),
                                                   "ranges": [{"start": "10.0.0.5",
                                                               "end": "10.0.0.50"}]})
        for n, name, ip, mac, host, interface in (
                (0x1b5, "blue5", "10.0.0.5", "00:1d:d8:b7:1c:05", h1, "b5"),
                (0x1b8, "ovs8", "10.0.0.8", "00:1d:d8:b7:1c:08", h3, "o8")):
            c.call("PUT", f"/vm-nics/{uuid(n)}", {"vm_subnet_id": uuid(0xb10), "vm_name": name,
                                                  "ip": ip, "mac": mac})
            c.call("PATCH", f"/vm-nics/{uuid(n)}", {"host_id": host.id, "interface": interface})
            lab.add_vm(name, host, interface, mac, f"{ip}/24", "10.0.0.1")
        cls.vnet_vm, cls.ovs_vm = lab.vms["blue5"], lab.vms["ovs8"]
        # OVS does not shrink the inner MTU: its VMs must use uplink MTU - 42,
        # as vnet's own VMs learn by DHCP (option 26).
        cls.ovs_vm.ns.run("ip", "link", "set", "eth0", "mtu", "1458")

        cls.ovs = vnetlab.OvsSwitch(lab, h3, "192.168.3.30/24", "192.168.3.1")
        cls.ovs.add_vm_port("o8")
        cls.ovs.add_gre_port("gre0", "192.168.1.10", VSID << 8)

        h1.start_agent("10.98.1.1:6641", c.call("POST", f"/hosts/{h1.id}/enrollment"))
        vnetlab.wait_until(lambda: c.call("GET", f"/hosts/{h1.id}")["realized_generation"] > 0,
                           timeout=20, what="host 1 realized")
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
        server = self.vnet_vm.ns.popen([vnetlab.PYTHON, "-c", TCP_SERVER],
                                       os.path.join(self.lab.dir, "tcp.log"))
        try:
            out = self.ovs_vm.ns.python(TCP_CLIENT, "10.0.0.5", timeout=90)
        finally:
            server.kill()
        sent, received = out.split()
        self.assertEqual(sent, received)


def main():
    require = os.environ.get("VNET_REQUIRE_PRIVILEGED") == "1"
    missing = None
    if os.geteuid() != 0:
        missing = "root (network namespaces, XDP, AF_XDP)"
    elif not shutil.which("ovs-vswitchd"):
        missing = "Open vSwitch (Debian's openvswitch-switch; scripts/setup installs it)"
    if missing:
        print(f"SKIP: the OVS interop test needs {missing}")
        sys.exit(1 if require else 77)
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:])


if __name__ == "__main__":
    main()
