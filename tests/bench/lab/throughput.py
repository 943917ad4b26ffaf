"""Lab throughput: one UDP flow of 64- and 1400-byte frames from a VM port
through one host out of its uplink, delivered to an XDP sink that counts and
drops (issue 5). The same generator and sink measure, in the same run:

  bare    a bare AF_XDP forwarder with the engine's settings and no
          processing (the ceiling of this lab)
  vnet    the vnet engine (real agent and controller), NVGRE to a remote PA
  ovs     Open vSwitch's userspace datapath with AF_XDP ports, a gre port
          with key VSID << 8 (what an operator would pick instead)
  vxlan   the kernel's overlay path: VXLAN on a bridge (this kernel has no GRE)

Usage (root): throughput.py --traffic BIN --controller BIN --agent BIN
              [--seconds 5] [--sizes 64,1400] [--variants bare,vnet,ovs,vxlan]
              [--generator xdp|packet] [--flows N] [--destinations N]
              [--direction out|in] [--engine-threads N]
The generator sends from an AF_XDP socket (issue 18; `--generator packet`:
AF_PACKET with sendmmsg, the first generator, about 0.64 Mpps here), one
UDP flow or N (source ports in turn). `--destinations N` (issue 18): the
model holds N remote NICs (10.0.0.7 onwards, on the remote host) and flow i
goes to the i-th (mod N), so vnet looks up N destinations.
`--direction in` (issue 18, many cores) turns it around for the vnet
variant: NVGRE from the underlay (the remote PA) into the host's uplink,
decapsulated to the VM, counted by a sink on the VM's eth0; the host's
uplink has `--engine-threads` queues and the agent as many engine
threads. The generator is then AF_PACKET through the device's queue
selection (`traffic send --hash`), which spreads flows over the uplink's
queues by hash (an AF_XDP socket sends on its own queue only, AF_PACKET
with the qdisc bypassed on the sending CPU's).
The generator runs on CPU 0 and all forwarding on CPU 1: the forwarder, and
the VM port's receive path too (threaded NAPI on the port's veth, its kthread
pinned to CPU 1), so the generator's CPU does nothing but send and the
variants differ only in the work they do on CPU 1.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "agent", "lab"))
import vnetlab  # noqa: E402

VM_MAC, PEER_MAC = "00:1d:d8:b7:1c:05", "00:1d:d8:b7:1c:07"
# The generator's CPU and the forwarding CPU (one CPU does both on a
# one-CPU machine, where the figures mean little but the benchmark runs).
GEN_CPU = "0"
FWD_CPU = "1" if (os.cpu_count() or 1) > 1 else "0"


def stat(ns, iface, name):
    try:
        return ns.counter(iface, name)
    except vnetlab.LabError:
        return 0


class Bench:
    def __init__(self, args):
        self.args = args
        self.lab = vnetlab.Lab(args.controller, args.agent)

    def build(self):
        lab = self.lab
        c = lab.start_controller()
        self.h1 = lab.add_host("h1", "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24",
                               queues=self.args.engine_threads)
        c.underlay(["192.168.1.0/24", "192.168.2.0/24"])
        c.place_host(self.h1, 0x101, "192.168.1.10")
        h2 = vnetlab.Host(lab, "h2", None)  # only in the model: the remote PA
        c.place_host(h2, 0x102, "192.168.2.20")
        c.vm_network(0xb1, "Blue")
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/16", 5001)
        c.vm_nic(0x1b5, 0xb10, "gen", VM_MAC, "10.0.0.5", self.h1.id, "b5")
        c.vm_nic(0x1b7, 0xb10, "peer", PEER_MAC, "10.0.0.7", h2.id, "b7")
        if self.args.destinations > 1:
            self.remote_nics(c, h2, self.args.destinations - 1)
        self.vm = lab.add_vm("gen", self.h1, "b5", VM_MAC, "10.0.0.5/24", None)
        self.enrollment = c.call("POST", f"/hosts/{self.h1.id}/enrollment")
        self.ul_mac = lab.underlay.run("cat", "/sys/class/net/h1-ul/address").strip()
        self.h1_mac = self.h1.ns.run("cat", "/sys/class/net/uplink/address").strip()

    def remote_nics(self, c, host, n):
        """n more NICs on the remote host, 10.0.0.8 onwards, through the REST
        API on one kept-alive connection (curl per NIC would take minutes)."""
        c.call("PATCH", f"/tenants/{vnetlab.TENANT}", {"quota_vm_nics": n + 100})
        started = time.monotonic()
        out = self.lab.underlay.python(BULK_NICS, c.token, vnetlab.uuid(0xb10), host.id, str(n),
                                       timeout=3600)
        print(f"{out.strip()} remote NICs in {time.monotonic() - started:.0f} s", flush=True)

    # --- one measurement --------------------------------------------------

    def napi_on_cpu1(self):
        """The receive path of the interface traffic enters the host by (XDP,
        or the bridge), the port veth's or the uplink's, in kthreads on CPU 1."""
        dev = "uplink" if self.args.direction == "in" else "b5"
        self.h1.ns.run("ethtool", "-K", dev, "gro", "on", check=False)  # NAPI without XDP too
        self.h1.ns.run("sh", "-c", f"echo 1 > /sys/class/net/{dev}/threaded", check=False)
        out = subprocess.run(["pgrep", "-f", f"napi/{dev}-"], capture_output=True,
                             text=True).stdout
        for pid in out.split():
            subprocess.run(["taskset", "-pc", FWD_CPU, pid], capture_output=True)

    def measure(self, size, seconds=None):
        """The median of --repeat runs (by delivered rate), with its spread."""
        if seconds is not None:
            return self.measure_once(size, seconds)
        runs = sorted((self.measure_once(size, self.args.seconds)
                       for _ in range(self.args.repeat)), key=lambda r: r["delivered"])
        median = dict(runs[len(runs) // 2])
        median["spread"] = (runs[0]["delivered"], runs[-1]["delivered"])
        return median

    def measure_once(self, size, seconds):
        lab, ns = self.lab, self.h1.ns
        self.napi_on_cpu1()
        before = {k: stat(ns, "b5", k) for k in ("rx_packets", "rx_dropped")}
        before["uplink_tx"] = stat(ns, "uplink", "tx_packets")
        inbound = self.args.direction == "in"
        sink_ns, sink_if = (self.vm.ns.name, "eth0") if inbound else (lab.underlay.name, "h1-ul")
        sink = subprocess.Popen(["ip", "netns", "exec", sink_ns, self.args.traffic,
                                 "sink", sink_if, str(seconds + 1.5)],
                                stdout=subprocess.PIPE, text=True)
        assert sink.stdout.readline().strip() == "ready"
        options = ["--flows", str(self.args.flows), "--destinations", str(self.args.destinations)]
        if inbound:
            # The remote host's NVGRE to this host's PA, VM 7 (and more) to VM 5.
            gen = lab.underlay.run(
                "taskset", "-c", GEN_CPU, self.args.traffic, "send", "h1-ul", str(size),
                str(seconds), PEER_MAC, VM_MAC, "10.0.0.7", "10.0.0.5", "--nvgre",
                f"{self.ul_mac},{self.h1_mac},192.168.2.20,192.168.1.10,5001",
                "--flows", str(self.args.flows), "--hash", timeout=seconds + 30)
        else:
            if self.args.generator == "xdp":
                options.append("--xdp")
            gen = self.vm.ns.run("taskset", "-c", GEN_CPU, self.args.traffic, "send", "eth0",
                                 str(size), str(seconds), VM_MAC, PEER_MAC, "10.0.0.5", "10.0.0.7",
                                 *options, timeout=seconds + 30)
        received = int(sink.communicate(timeout=seconds + 30)[0].split()[1])
        sent = int(gen.split()[1])  # "sent PACKETS SECONDS"
        after = {k: stat(ns, "b5", k) for k in ("rx_packets", "rx_dropped")}
        after["uplink_tx"] = stat(ns, "uplink", "tx_packets")
        return {
            "offered": sent / seconds,
            "delivered": received / seconds,
            "port_rx": (after["rx_packets"] - before["rx_packets"]) / seconds,
            "port_rx_dropped": (after["rx_dropped"] - before["rx_dropped"]) / seconds,
            "uplink_tx": (after["uplink_tx"] - before["uplink_tx"]) / seconds,
        }

    # --- the variants -----------------------------------------------------

    def bare(self, size):
        lasts = self.args.repeat * (self.args.seconds + 3) + 3
        fwd = self.h1.ns.popen(["taskset", "-c", FWD_CPU, self.args.traffic, "forward", "b5", "uplink",
                                str(lasts)],
                               os.path.join(self.lab.dir, "forward.log"))
        time.sleep(1.0)
        try:
            return self.measure(size)
        finally:
            fwd.wait(timeout=lasts + 30)

    def vnet(self, size):
        h1 = self.h1
        first = h1.agent is None
        h1.agent = None
        args = ["taskset", "-c", self.args.agent_cpus, self.lab.agent_binary,
                "--controller", "10.98.1.1:6641", "--host-id", h1.id, "--state-dir", h1.state,
                "--uplink", "uplink", "--log-level", "warn",
                "--engine-threads", str(self.args.engine_threads)]
        if first:
            args += ["--enrollment-token", self.enrollment["token"], "--ca-sha256",
                     self.enrollment["ca_sha256"]]
        h1.agent = h1.ns.popen(args, os.path.join(self.lab.dir, "agent-h1.log"))
        self.lab.processes.append(h1.agent)
        vnetlab.wait_until(lambda: self.lab.controller.call(
            "GET", f"/hosts/{h1.id}")["realized_generation"] > 0, timeout=120, what="realized")
        # The first frames make the agent resolve the underlay next hop.
        self.measure(size, seconds=0.3)
        time.sleep(1.5)
        try:
            result = self.measure(size)
            counters = h1.counters()  # since the agent started: every run of this size
            result["engine"] = {k: v for k, v in counters.get("b5", {}).items()
                                if k not in ("rx_bytes", "tx_bytes")}
            if self.args.direction == "in":
                result["engine"]["threads"] = counters["uplink"]["threads"]
                result["engine"]["queues"] = counters["uplink"]["queues"]
            return result
        finally:
            h1.stop_agent()

    def vxlan(self, size):
        ns = self.h1.ns
        ns.run("ip", "addr", "add", "192.168.1.10/24", "dev", "uplink")
        ns.run("ip", "route", "replace", "192.168.2.0/24", "via", "192.168.1.1")
        ns.run("ip", "link", "add", "vx0", "type", "vxlan", "id", "5001", "local", "192.168.1.10",
               "remote", "192.168.2.20", "dstport", "4789", "dev", "uplink")
        ns.run("ip", "link", "add", "br0", "type", "bridge")
        for dev in ("vx0", "b5"):
            ns.run("ip", "link", "set", dev, "master", "br0")
        for dev in ("vx0", "br0"):
            ns.run("ip", "link", "set", dev, "up")
        try:
            self.measure(size, seconds=0.3)  # ARP for the next hop
            time.sleep(0.5)
            return self.measure(size)
        finally:
            ns.run("ip", "link", "del", "br0")
            ns.run("ip", "link", "del", "vx0")
            ns.run("ip", "route", "del", "192.168.2.0/24", check=False)
            ns.run("ip", "addr", "del", "192.168.1.10/24", "dev", "uplink")

    def ovs(self, size):
        if not hasattr(self, "switch"):
            sw = vnetlab.OvsSwitch(self.lab, self.h1, "192.168.1.10/24", "192.168.1.1",
                                   uplink_type="afxdp", cpu=int(FWD_CPU))
            sw.vsctl("set", "Open_vSwitch", ".", f"other_config:pmd-cpu-mask={1 << int(FWD_CPU):#x}")
            sw.vsctl("add-port", "br-int", "b5", "--", "set", "interface", "b5", "type=afxdp",
                     "options:xdp-mode=native")
            sw.add_gre_port("gre0", "192.168.2.20", 5001 << 8)
            sw.appctl("tnl/arp/set", "br-phy", "192.168.1.1", self.ul_mac)
            self.switch = sw
            time.sleep(2.0)
        self.measure(size, seconds=0.3)
        time.sleep(0.5)
        return self.measure(size)


# Runs in the underlay: PUT n NICs 10.0.0.8... on one HTTP/1.1 connection.
BULK_NICS = r"""
import http.client, json, sys
token, subnet, host, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", 8080, timeout=60)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
for i in range(n):
    ip = 0x0a000008 + i
    body = {"vm_subnet_id": subnet, "vm_name": f"r{i}", "mac": "00:1d:d9:%02x:%02x:%02x" % (
                i >> 16 & 255, i >> 8 & 255, i & 255),
            "ip": ".".join(str(ip >> s & 255) for s in (24, 16, 8, 0)),
            "host_id": host, "interface": f"r{i}"}
    conn.request("PUT", f"/api/v1/vm-nics/00000000-0000-4000-8001-{i:012x}", json.dumps(body),
                 headers)
    r = conn.getresponse()
    text = r.read()
    if r.status >= 400:
        sys.exit(f"NIC {i}: HTTP {r.status}: {text[:300]}")
print(n)
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--traffic", required=True)
    p.add_argument("--controller", required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown")
    p.add_argument("--sizes", default="64,1400")
    p.add_argument("--variants", default="bare,vnet,vxlan,ovs")
    p.add_argument("--generator", choices=("xdp", "packet"), default="xdp")
    p.add_argument("--flows", type=int, default=1)
    p.add_argument("--destinations", type=int, default=1,
                   help="remote NICs in the model; flow i goes to the i-th")
    p.add_argument("--direction", choices=("out", "in"), default="out",
                   help="out: VM to uplink (every variant); in: NVGRE into the uplink, to the VM "
                        "(vnet)")
    p.add_argument("--engine-threads", type=int, default=1,
                   help="the uplink's queues and the agent's engine threads")
    p.add_argument("--agent-cpus", default=FWD_CPU, help="taskset CPU list of the agent")
    args = p.parse_args()
    if args.direction == "in" and args.variants != "vnet":
        p.error("--direction in measures the vnet variant only (--variants vnet)")
    if os.geteuid() != 0:
        print("SKIP: the lab throughput benchmark needs root")
        sys.exit(1 if os.environ.get("VNET_REQUIRE_PRIVILEGED") == "1" else 77)
    bench = Bench(args)
    results = {}
    with bench.lab:
        bench.build()
        # OVS last: it takes the uplink over.
        for variant in args.variants.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                results[(variant, size)] = getattr(bench, variant)(size)
                r = results[(variant, size)]
                lo, hi = r["spread"]
                print(f"{variant:6} {size:5} B  offered {r['offered'] / 1e6:6.3f} Mpps  "
                      f"delivered {r['delivered'] / 1e6:6.3f} Mpps "
                      f"({lo / 1e6:.3f}-{hi / 1e6:.3f})  port rx "
                      f"{r['port_rx'] / 1e6:6.3f}  port rx_dropped "
                      f"{r['port_rx_dropped'] / 1e6:6.3f}  uplink tx {r['uplink_tx'] / 1e6:6.3f}"
                      + (f"  engine {r['engine']}" if "engine" in r else ""), flush=True)
    print(f"\ndirection {args.direction}, generator "
          f"{'packet' if args.direction == 'in' else args.generator}, {args.flows} flow(s), "
          f"{args.destinations} destination(s), {args.engine_threads} engine thread(s) on CPU(s) "
          f"{args.agent_cpus}; figures in Mpps delivered to the sink; ratio against the bare "
          "forwarder and OVS")
    print(f"{'size':>6} {'bare':>8} {'vnet':>8} {'ovs':>8} {'vxlan':>8} {'vnet/bare':>10} "
          f"{'vnet/ovs':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        row = {v: results.get((v, size), {}).get("delivered") for v in ("bare", "vnet", "ovs",
                                                                          "vxlan")}
        fmt = lambda x: f"{x / 1e6:8.3f}" if x else f"{'-':>8}"  # noqa: E731
        ratio = lambda a, b: f"{a / b:.2f}" if a and b else "-"  # noqa: E731
        print(f"{size:>6} {fmt(row['bare'])} {fmt(row['vnet'])} {fmt(row['ovs'])} "
              f"{fmt(row['vxlan'])} {ratio(row['vnet'], row['bare']):>10} "
              f"{ratio(row['vnet'], row['ovs']):>9}")


if __name__ == "__main__":
    main()
