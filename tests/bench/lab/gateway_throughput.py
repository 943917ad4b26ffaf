"""Gateway throughput (issue 15): NVGRE from a VM's host into a gateway host,
out of its external interface to an XDP sink in the `internet` namespace,
with one flow and with 1,000, at 64 and 1400 bytes; and the rate of new
flows (a flood of distinct 5-tuples, each sent once). In the same run:

  nat         the vnet engine with Blue's NAT gateway (decapsulation, the
              flow look-up or a new flow, source translation, checksums)
  forwarding  the vnet engine with a forwarding gateway: the same traffic,
              decapsulated and sent on untranslated (the engine's NVGRE rate
              without NAT)
  nft         Linux forwarding the same traffic without NVGRE (plain IPv4)
              through nftables masquerade (conntrack NAT), on the same lab

Usage (root): gateway_throughput.py --traffic BIN --controller BIN --agent BIN
              [--seconds 5] [--repeat 3] [--sizes 64,1400] [--flows 1,1000]
              [--variants nat,forwarding,nft] [--new-flows 60000]
The generator (AF_PACKET, in the underlay namespace, on CPU 0) sends into the
gateway host's uplink; the gateway host's work (the agent's engine thread, or
the kernel's forwarding in the veth's NAPI kthread) runs on CPU 1.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "agent", "lab"))
import vnetlab  # noqa: E402
from vnetlab import uuid  # noqa: E402

BLUE_MAC, ROUTER_MAC = "00:1d:d8:b7:1c:05", "00:1d:d8:00:00:01"
HOST1_PA, GW_PA, SERVER = "192.168.1.10", "192.168.3.30", "203.0.113.1"
VSID = 5001
GEN_CPU = "0"
FWD_CPU = "1" if (os.cpu_count() or 1) > 1 else "0"
EDGE_POOL = uuid(0xf002)  # Controller.external_network()
GATEWAY = uuid(0x6b1)


class GatewayBench:
    def __init__(self, args):
        self.args = args
        self.lab = vnetlab.Lab(args.controller, args.agent)
        self.kind = None

    def build(self):
        lab = self.lab
        c = lab.start_controller()
        self.g1 = lab.add_host("g1", "192.168.3.1/24", "10.98.3.1/24", "10.98.3.30/24")
        c.underlay(["192.168.1.0/24", "192.168.3.0/24"])
        h1 = vnetlab.Host(lab, "h1", None)  # only in the model: the VM's host
        c.place_host(h1, 0x101, HOST1_PA)
        c.place_host(self.g1, 0x103, GW_PA)
        c.call("PATCH", f"/hosts/{self.g1.id}", {"external_interface": "ext0"})
        c.external_network(SERVER)
        c.vm_network(0xb1, "Blue")
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24", VSID)
        c.vm_nic(0x1b5, 0xb10, "gen", BLUE_MAC, "10.0.0.5", h1.id, "b5")
        inet = lab.add_internet(f"{SERVER}/24")
        lab.connect_external(self.g1)
        # The sink drops everything, ARP too: the next hop's MAC is static.
        self.sink_mac = inet.run("cat", "/sys/class/net/g1-x/address").strip()
        self.g1.ns.run("ip", "neigh", "replace", SERVER, "lladdr", self.sink_mac, "dev", "ext0",
                       "nud", "permanent")
        self.ul_mac = lab.underlay.run("cat", "/sys/class/net/g1-ul/address").strip()
        self.uplink_mac = self.g1.ns.run("cat", "/sys/class/net/uplink/address").strip()
        self.enrollment = c.call("POST", f"/hosts/{self.g1.id}/enrollment")

    # --- the gateway host's engine ----------------------------------------

    def gateway(self, kind):
        """Blue's gateway of `kind` on g1 (kind is immutable: made anew)."""
        c = self.lab.controller
        if self.kind == kind:
            return
        if self.kind:
            c.call("DELETE", f"/gateways/{GATEWAY}")
        c.call("PUT", f"/gateways/{GATEWAY}", {"name": "bench", "vm_network_id": uuid(0xb1),
                                                "kind": kind, "external_pool_id": EDGE_POOL,
                                                "host_id": self.g1.id})
        self.kind = kind

    def start_agent(self, extra=()):
        g1 = self.g1
        first = not os.path.exists(os.path.join(g1.state, "agent.crt"))
        args = ["taskset", "-c", FWD_CPU, self.lab.agent_binary, "--controller",
                f"{g1.mgmt_gateway}:6641", "--host-id", g1.id, "--state-dir", g1.state,
                "--uplink", "uplink", "--log-level", "warn", "--nat-flows", "1048576", *extra]
        if first:
            args += ["--enrollment-token", self.enrollment["token"], "--ca-sha256",
                     self.enrollment["ca_sha256"]]
        g1.agent = g1.ns.popen(args, os.path.join(self.lab.dir, "agent-g1.log"))
        self.lab.processes.append(g1.agent)
        g1.wait_realized()

        def ready():
            g = self.lab.controller.call("GET", f"/gateways/{GATEWAY}")
            return g["configuration_state"]["status"] == "success"
        vnetlab.wait_until(ready, timeout=20, what="the gateway realized")

    # --- one measurement --------------------------------------------------

    def send(self, size, seconds, flows, nvgre, once=False):
        args = [self.args.traffic, "send", "g1-ul", str(size), str(seconds)]
        if nvgre:
            args += [BLUE_MAC, ROUTER_MAC, "10.0.0.5", SERVER, "--nvgre",
                     f"{self.ul_mac},{self.uplink_mac},{HOST1_PA},{GW_PA},{VSID}"]
        else:  # plain IPv4 to the gateway host's uplink, routed by its kernel
            args += [self.ul_mac, self.uplink_mac, "10.0.0.5", SERVER]
        args += ["--flows", str(flows)] + (["--once"] if once else [])
        out = self.lab.underlay.run("taskset", "-c", GEN_CPU, *args, timeout=seconds + 60).split()
        return int(out[1]), float(out[2])

    def measure_once(self, size, seconds, flows, nvgre, once=False):
        sink = subprocess.Popen(["ip", "netns", "exec", self.lab.internet.name,
                                 self.args.traffic, "sink", "g1-x", str(seconds + 1.0)],
                                stdout=subprocess.PIPE, text=True)
        assert sink.stdout.readline().strip() == "ready"
        sent, took = self.send(size, seconds, flows, nvgre, once)
        received = int(sink.communicate(timeout=seconds + 30)[0].split()[1])
        return {"offered": sent / took, "delivered": received / took, "sent": sent,
                "received": received, "took": took}

    def measure(self, size, flows, nvgre):
        self.measure_once(size, 0.3, flows, nvgre)  # first frames: flows, neighbours
        time.sleep(0.5)
        runs = sorted((self.measure_once(size, self.args.seconds, flows, nvgre)
                       for _ in range(self.args.repeat)), key=lambda r: r["delivered"])
        median = dict(runs[len(runs) // 2])
        median["spread"] = (runs[0]["delivered"], runs[-1]["delivered"])
        return median

    def new_flows(self, nvgre, settle):
        """A flood of distinct 5-tuples, each sent once: flows made per second."""
        runs = []
        for _ in range(self.args.repeat):
            settle()
            # Long enough for the flood at 0.1 Mpps; the sink waits that long.
            seconds = max(1.0, self.args.new_flows / 100_000)
            runs.append(self.measure_once(64, seconds, self.args.new_flows, nvgre, once=True))
        runs.sort(key=lambda r: r["delivered"])
        median = dict(runs[len(runs) // 2])
        median["spread"] = (runs[0]["delivered"], runs[-1]["delivered"])
        return median

    # --- the variants -----------------------------------------------------

    def engine(self, kind):
        self.gateway(kind)
        # UDP flows time out after 1 s, so that each flood finds an empty table.
        self.start_agent(["--nat-udp-timeout", "1"])
        try:
            out = {}
            for size in self.sizes:
                for flows in self.flows:
                    out[(size, flows)] = self.measure(size, flows, nvgre=True)
            if kind == "nat":
                out["new"] = self.new_flows(True, lambda: time.sleep(2.5))
            out["counters"] = self.g1.counters()
            return out
        finally:
            self.g1.stop_agent()

    def nft(self):
        ns = self.g1.ns
        ns.run("ip", "addr", "add", "203.0.113.100/24", "dev", "ext0")
        ns.run("ip", "neigh", "replace", SERVER, "lladdr", self.sink_mac, "dev", "ext0", "nud",
               "permanent")
        ns.run("nft", "add", "table", "ip", "vnetbench")
        ns.run("nft", "add", "chain", "ip", "vnetbench", "post",
               "{ type nat hook postrouting priority 100; }")
        # Loads conntrack, whose UDP timeout is set below.
        ns.run("nft", "add", "rule", "ip", "vnetbench", "post", "oifname", "ext0", "masquerade")
        for setting in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                        "net.ipv4.conf.uplink.rp_filter=0",
                        "net.netfilter.nf_conntrack_udp_timeout=1"):
            ns.run("sysctl", "-qw", setting, check=False)
        # The NAPI kthread of the uplink (the kernel's forwarding) on CPU 1.
        ns.run("ethtool", "-K", "uplink", "gro", "on", check=False)
        ns.run("sh", "-c", "echo 1 > /sys/class/net/uplink/threaded", check=False)
        out_pids = subprocess.run(["pgrep", "-f", "napi/uplink-"], capture_output=True,
                                  text=True).stdout
        for pid in out_pids.split():
            subprocess.run(["taskset", "-pc", FWD_CPU, pid], capture_output=True)
        print(f"nft: the uplink's NAPI kthreads {out_pids.split()} on CPU {FWD_CPU}", flush=True)
        try:
            out = {}
            for size in self.sizes:
                for flows in self.flows:
                    out[(size, flows)] = self.measure(size, flows, nvgre=False)
            out["new"] = self.new_flows(False, lambda: time.sleep(2.5))
            return out
        finally:
            ns.run("nft", "delete", "table", "ip", "vnetbench", check=False)
            ns.run("ip", "addr", "del", "203.0.113.100/24", "dev", "ext0", check=False)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--traffic", required=True)
    p.add_argument("--controller", required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown")
    p.add_argument("--sizes", default="64,1400")
    p.add_argument("--flows", default="1,1000")
    p.add_argument("--new-flows", type=int, default=60000)
    p.add_argument("--variants", default="nat,forwarding,nft")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("SKIP: the gateway throughput benchmark needs root")
        sys.exit(1 if os.environ.get("VNET_REQUIRE_PRIVILEGED") == "1" else 77)
    bench = GatewayBench(args)
    bench.sizes = [int(s) for s in args.sizes.split(",")]
    bench.flows = [int(f) for f in args.flows.split(",")]
    results = {}
    with bench.lab:
        bench.build()
        for variant in args.variants.split(","):
            results[variant] = bench.nft() if variant == "nft" else bench.engine(variant)
            for key, r in results[variant].items():
                if key == "counters":
                    drops = {k: v for port in r.values() for k, v in port.items()
                             if k in ("nat_table_full", "nat_ports_exhausted", "no_frame",
                                      "no_external_neighbor")}
                    print(f"{variant:10} engine drops {drops}", flush=True)
                    continue
                label = "new flows" if key == "new" else f"{key[0]:5} B {key[1]:5} flows"
                lo, hi = r["spread"]
                print(f"{variant:10} {label}  offered {r['offered'] / 1e6:6.3f} Mpps  delivered "
                      f"{r['delivered'] / 1e6:6.3f} Mpps ({lo / 1e6:.3f}-{hi / 1e6:.3f})  "
                      f"sent {r['sent']} received {r['received']} in {r['took']:.2f} s",
                      flush=True)
    print("\nMpps offered -> delivered to the sink (the generator is AF_PACKET: where a variant "
          "delivers all it is offered, the generator, not the variant, is the limit)")
    print(f"{'size':>6} {'flows':>6} {'nat':>17} {'forwarding':>17} {'nft':>17}")
    cell = lambda v, k: (f"{results[v][k]['offered'] / 1e6:.3f} -> {results[v][k]['delivered'] / 1e6:.3f}"  # noqa: E731
                         if k in results.get(v, {}) else "-")
    for size in bench.sizes:
        for flows in bench.flows:
            k = (size, flows)
            print(f"{size:>6} {flows:>6} {cell('nat', k):>17} {cell('forwarding', k):>17} "
                  f"{cell('nft', k):>17}")
    get = lambda v, k: results.get(v, {}).get(k, {}).get("delivered")  # noqa: E731
    fmt = lambda x: f"{x / 1e6:8.3f}" if x else f"{'-':>8}"  # noqa: E731
    ratio = lambda a, b: f"{a / b:.2f}" if a and b else "-"  # noqa: E731
    nat_new, nft_new = get("nat", "new"), get("nft", "new")
    print(f"new flows/s: nat {fmt(nat_new)} M  nft {fmt(nft_new)} M  nat/nft "
          f"{ratio(nat_new, nft_new)} (a flood of {args.new_flows} distinct 5-tuples, each once)")


if __name__ == "__main__":
    main()
