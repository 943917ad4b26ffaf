"""Issue 18, many cores: hosts whose uplinks have two queues, so each agent
runs two engine threads (the default: one per queue, at most one per CPU).
The underlay spreads the NVGRE it sends a host over the two queues by flow
hash; the VM port on host 1 belongs to one of the threads, so frames that
arrive on the other queue are handed between threads. Asserted: every
packet of every flow arrives, in order within its flow; the counters add
up to what was sent; and a port that comes and goes and policy swaps under
traffic lose nothing of the flows beside them.

Needs root; skips (exit 77) otherwise, which VNET_REQUIRE_PRIVILEGED turns
into a failure. VNET_CONTROLLER_BINARY and VNET_AGENT_BINARY name the
binaries.
"""

import json
import subprocess
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vnetlab  # noqa: E402
from vnetlab import PYTHON, wait_until  # noqa: E402

FLOWS = 16

# Sends `count` datagrams on each of `flows` UDP flows (one source port
# each), round robin, about `pps` a second; each carries its flow and its
# sequence number.
FLOW_SEND = r"""
import socket, struct, sys, time
dst, flows, count, pps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
size = int(sys.argv[5])
socks = []
for f in range(flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 20000 + f))
    socks.append(s)
start = time.monotonic(); sent = 0
for seq in range(count):
    for f in range(flows):
        socks[f].sendto(struct.pack("!II", f, seq) + b"x" * (size - 8), (dst, 9000))
        sent += 1
    ahead = sent / pps - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
print(sent)
"""

# Receives until `expected` datagrams came or the line was quiet for two
# seconds; prints what came per flow and how many arrived out of order.
FLOW_RECEIVE = r"""
import json, socket, struct, sys
expected, size = int(sys.argv[1]), int(sys.argv[2])
filler = b"x" * (size - 8)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE: no loss in the VM's own stack
s.bind(("0.0.0.0", 9000))
print("listening", flush=True)
s.settimeout(20)
last, received, reordered, corrupt = {}, 0, 0, 0
try:
    while received < expected:
        data = s.recv(65536)
        flow, seq = struct.unpack("!II", data[:8])
        corrupt += data[8:] != filler
        if seq <= last.get(flow, -1):
            reordered += 1
        last[flow] = seq
        received += 1
        s.settimeout(2)
except socket.timeout:
    pass
print(json.dumps({"received": received, "reordered": reordered, "corrupt": corrupt,
                  "flows": len(last)}), flush=True)
"""


def read(path):
    with open(path) as f:
        return f.read()


class ThreadsLab(vnetlab.LabTestCase):
    @classmethod
    def build(cls):
        lab = cls.lab
        c, (h1, h2), cls.vms = lab.blue_on_two_hosts(("t1", "t2"), (
            ("blue5", 0x1b5, "10.0.0.5", "00:1d:d8:b7:1c:05", 0, "b5"),
            ("blue7", 0x1b7, "10.0.0.7", "00:1d:d8:b7:1c:07", 1, "b7")),
            mtu=9000, queues=2, vm_mtu=8958)
        cls.h1, cls.h2, cls.c = h1, h2, c
        lab.start_agents([h1, h2])
        # The first packets of a flow wait for ARP and next hops: settled once.
        cls.vms["blue7"].ping("10.0.0.5", count=1, timeout=5)

    def flows(self, count, pps, during=None, size=64):
        """FLOWS flows of `count` datagrams from blue7 (host 2) to blue5
        (host 1); `during` runs beside the sender. Returns what the
        receiver saw and the counters of host 1 before and after."""
        expected = FLOWS * count
        log = os.path.join(self.lab.dir, f"receive-{time.monotonic_ns()}.log")
        receiver = self.vms["blue5"].ns.popen([PYTHON, "-u", "-c", FLOW_RECEIVE, str(expected),
                                               str(size)],
                                              log)
        try:
            wait_until(lambda: "listening" in read(log), what="the receiver")
            before = self.h1.counters()
            done = threading.Event()
            churn = None
            if during:
                churn = threading.Thread(target=during, args=(done,))
                churn.start()
            try:
                sent = int(self.vms["blue7"].ns.python(FLOW_SEND, "10.0.0.5", str(FLOWS),
                                                       str(count), str(pps), str(size),
                                                       timeout=120))
            finally:
                done.set()
                if churn:
                    churn.join()
            receiver.wait(timeout=60)
        finally:
            if receiver.poll() is None:
                receiver.kill()
        self.assertEqual(sent, expected)
        seen = json.loads(read(log).splitlines()[-1])
        return seen, before, self.h1.counters()

    def test_each_uplink_queue_has_its_engine_thread(self):
        counters = self.h1.counters()
        self.assertEqual([q["queue"] for q in counters["uplink"]["queues"]], [0, 1])
        self.assertEqual([t["thread"] for t in counters["uplink"]["threads"]], [0, 1])
        self.assertIn("threads=2 queues=2", self.lab.log("agent-t1.log"))

    def test_more_threads_than_the_uplink_has_queues_is_refused_at_start(self):
        # A third thread would serve a queue the uplink does not have.
        state = os.path.join(self.lab.dir, "agent-refused")
        result = subprocess.run(
            ["ip", "netns", "exec", self.h1.ns.name, self.lab.agent_binary, "--controller",
             "10.98.1.1:6641", "--host-id", self.h1.id, "--state-dir", state, "--uplink",
             "uplink", "--engine-threads", "3"], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("--engine-threads 3: uplink has 2 receive queues", result.stderr)
        # The running agent's XDP program and sockets are untouched.
        self.assertIn("xdp", self.h1.ns.run("ip", "link", "show", "uplink"))
        self.assertEqual(self.h1.show("status")["connected"], True)

    def test_every_packet_of_every_flow_arrives_in_order_and_the_counters_add_up(self):
        seen, before, after = self.flows(count=1000, pps=20000)
        self.assertEqual(seen, {"received": FLOWS * 1000, "reordered": 0, "corrupt": 0,
                                "flows": FLOWS})

        def delta(*path):
            a, b = after, before
            for key in path:
                a, b = a[key], b[key]
            return a - b
        # The port sent the VM exactly what came, and what came arrived on
        # the uplink: both queues carried some, and together all of it.
        self.assertEqual(delta("b5", "tx_packets"), FLOWS * 1000)
        per_queue = [a["rx_packets"] - b["rx_packets"]
                     for a, b in zip(after["uplink"]["queues"], before["uplink"]["queues"])]
        self.assertEqual(sum(per_queue), FLOWS * 1000, per_queue)
        self.assertTrue(all(n > 0 for n in per_queue), per_queue)
        # The queue whose thread does not own b5 handed its share over.
        handed = [a["handed_off"] - b["handed_off"]
                  for a, b in zip(after["uplink"]["threads"], before["uplink"]["threads"])]
        self.assertEqual(sorted(handed)[0], 0, handed)
        self.assertIn(sorted(handed)[1], per_queue, (handed, per_queue))

    def test_jumbo_datagrams_handed_between_threads_arrive_whole_and_in_order(self):
        # 8,000 bytes of UDP: NVGRE frames of three UMEM frames each, which
        # the thread of the other queue hands over as one.
        seen, before, after = self.flows(count=200, pps=4000, size=8000)
        self.assertEqual(seen, {"received": FLOWS * 200, "reordered": 0, "corrupt": 0,
                                "flows": FLOWS})
        handed = [a["handed_off"] - b["handed_off"]
                  for a, b in zip(after["uplink"]["threads"], before["uplink"]["threads"])]
        self.assertGreater(max(handed), 0, handed)

    def test_a_port_coming_and_going_and_policy_swaps_lose_nothing_of_other_flows(self):
        c, lab, h1 = self.c, self.lab, self.h1
        churned = []

        def churn(done):
            # A second VM on host 1 whose NIC and interface come and go, each
            # time a new policy and a socket bound and released on the
            # engine the flows go through.
            n = 0
            while not done.is_set():
                n += 1
                name = "b9"
                c.vm_nic(0x1b9, 0xb10, "blue9", "00:1d:d8:b7:1c:09", "10.0.0.9", h1.id, name)
                vm = lab.add_vm(f"blue9-{n}", h1, name, "00:1d:d8:b7:1c:09", "10.0.0.9/24")
                wait_until(lambda: name in h1.counters(), timeout=10, what="b9's socket")
                c.call("DELETE", f"/vm-nics/{vnetlab.uuid(0x1b9)}", expect=204)
                vnetlab.sh("ip", "netns", "del", vm.ns.name)
                lab.namespaces.remove(vm.ns)
                churned.append(n)
        seen, _, _ = self.flows(count=4000, pps=16000, during=churn)
        self.assertGreater(len(churned), 1)
        self.assertEqual(seen, {"received": FLOWS * 4000, "reordered": 0, "corrupt": 0,
                                "flows": FLOWS})


def main():
    vnetlab.skip_unless_root("the engine threads lab")
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:])


if __name__ == "__main__":
    main()
