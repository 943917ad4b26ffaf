"""A lab of vnet hosts on one machine (DESIGN.md section 5), for tests.

Network namespaces made here and always removed: an underlay that routes
between the PA subnets and runs the controller (its management network is
the underlay's), one namespace per host running a real vnet-agent on its
uplink veth, one per VM with an eth0 whose host side is the NIC's
interface. Names carry a per-run prefix, so parallel runs never collide, and
nothing is created outside these namespaces.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import unittest

PYTHON = "/usr/bin/python3"  # Debian's, with scapy

# Fixed ids of what every lab's model has: PUT is idempotent with them.
LN = "00000000-0000-4000-8000-00000000d000"
SITE = "00000000-0000-4000-8000-00000000a000"
TENANT = "00000000-0000-4000-8000-00000000b000"


def uuid(n):
    """A deterministic id for lab objects: uuid(0x101) = ...-000000000101."""
    return f"00000000-0000-4000-8000-{n:012x}"


class LabError(Exception):
    pass


def sh(*args, check=True, capture=True, timeout=60):
    """Runs a command; returns its stdout. Raises LabError with stderr."""
    result = subprocess.run(list(args), capture_output=capture, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise LabError(f"{shlex.join(args)}: exit {result.returncode}: "
                       f"{(result.stderr or '').strip()}")
    return result.stdout if capture else ""


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Namespace:
    def __init__(self, name):
        self.name = name

    def run(self, *args, check=True, timeout=60):
        return sh("ip", "netns", "exec", self.name, *args, check=check, timeout=timeout)

    def popen(self, args, log_path, env=None):
        with open(log_path, "ab") as log:
            return subprocess.Popen(["ip", "netns", "exec", self.name, *args], stdout=log,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def python(self, code, *args, timeout=60, check=True):
        return self.run(PYTHON, "-c", code, *args, timeout=timeout, check=check)

    def counter(self, interface, name):
        path = f"/sys/class/net/{interface}/statistics/{name}"
        return int(self.run("cat", path).strip())


class Controller:
    """vnet-controller in the underlay namespace; REST through curl in it."""

    def __init__(self, lab, binary):
        self.lab = lab
        self.binary = binary
        self.data = os.path.join(lab.dir, "controller")
        os.makedirs(self.data)
        self.start()
        with open(os.path.join(self.data, "admin.token")) as f:
            self.token = f.read().strip()

    def start(self):
        """Starts (or starts again) the controller on its data directory."""
        self.process = self.lab.underlay.popen(
            [self.binary, "--data-dir", self.data, "--listen", "127.0.0.1:8080", "--southbound",
             "0.0.0.0:6641", "--log-level", "debug"], os.path.join(self.lab.dir, "controller.log"))
        self.lab.processes.append(self.process)
        wait_until(lambda: os.path.exists(os.path.join(self.data, "admin.token")) and
                   self.healthy(), what="the controller to answer")

    def stop(self):
        """SIGTERM, and waits for the exit; returns the exit code."""
        os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=20)

    def healthy(self):
        out = self.lab.underlay.run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                    "http://127.0.0.1:8080/healthz", check=False)
        return out.strip() == "200"

    def underlay(self, subnets):
        """The administrator's part of a lab: a logical network, one site with
        the PA subnets ("192.168.N.0/24"), each with a pool of .10-.99 whose
        gateway is .1 (the underlay namespace), and a tenant (TENANT)."""
        self.call("PUT", f"/logical-networks/{LN}", {"name": "dc",
                                                     "network_virtualization": True})
        self.call("PUT", f"/tenants/{TENANT}", {"name": "lab"})
        self.call("PUT", f"/sites/{SITE}", {"logical_network_id": LN, "name": "lab",
                                            "subnets": [{"prefix": p} for p in subnets]})
        for i, prefix in enumerate(subnets):
            base = prefix.rsplit(".", 1)[0]
            self.call("PUT", f"/ip-pools/{uuid(0xa01 + i)}", {
                "site_id": SITE, "subnet": prefix, "gateway": f"{base}.1",
                "ranges": [{"start": f"{base}.10", "end": f"{base}.99"}]})

    def external_network(self, gateway="203.0.113.1"):
        """What gateways need of the administrator (docs/gateways.md): an
        external logical network without network virtualization, a site on
        203.0.113.0/24 and its pool 203.0.113.100-120 whose gateway is the
        next hop. Returns the pool's id (uuid(0xf002))."""
        ln, site, pool = uuid(0xf000), uuid(0xf001), uuid(0xf002)
        self.call("PUT", f"/logical-networks/{ln}", {"name": "internet",
                                                      "network_virtualization": False})
        self.call("PUT", f"/sites/{site}", {"logical_network_id": ln, "name": "edge",
                                            "subnets": [{"prefix": "203.0.113.0/24"}]})
        self.call("PUT", f"/ip-pools/{pool}", {
            "site_id": site, "subnet": "203.0.113.0/24", "gateway": gateway,
            "ranges": [{"start": "203.0.113.100", "end": "203.0.113.120"}]})
        return pool

    def place_host(self, host, n, pa):
        """The host in the model, with id uuid(n) and its PA."""
        host.id = uuid(n)
        self.call("PUT", f"/hosts/{host.id}", {"name": host.name, "site_id": SITE, "pa": pa})

    def vm_network(self, n, name, translation="encap", tenant=TENANT):
        self.call("PUT", f"/vm-networks/{uuid(n)}", {"tenant_id": tenant, "name": name,
                                                     "logical_network_id": LN,
                                                     "translation": translation})

    def vm_subnet(self, n, network_n, prefix, vsid=None, pool=None, dns=()):
        body = {"vm_network_id": uuid(network_n), "name": prefix, "prefix": prefix}
        if vsid:
            body["vsid"] = vsid
        self.call("PUT", f"/vm-subnets/{uuid(n)}", body)
        if pool:
            self.call("PUT", f"/ip-pools/{uuid(n + 1)}", {
                "vm_subnet_id": uuid(n), "ranges": [{"start": pool[0], "end": pool[1]}],
                "dns": list(dns)})

    def vm_nic(self, n, subnet_n, name, mac, ip=None, host_id=None, interface=None):
        """Creates (PUT) the NIC and places it; returns it as the API shows it."""
        body = {"vm_subnet_id": uuid(subnet_n), "vm_name": name, "mac": mac}
        if ip:
            body["ip"] = ip
        nic = self.call("PUT", f"/vm-nics/{uuid(n)}", body)
        if host_id:
            nic = self.call("PATCH", f"/vm-nics/{uuid(n)}", {"host_id": host_id,
                                                             "interface": interface})
        return nic

    def call(self, method, path, body=None, expect=None):
        args = ["curl", "-s", "-w", "\n%{http_code}", "-X", method, "-H",
                f"Authorization: Bearer {self.token}"]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        out = self.lab.underlay.run(*args, "http://127.0.0.1:8080/api/v1" + path)
        text, _, status = out.rpartition("\n")
        status = int(status)
        if (expect is not None and status != expect) or (expect is None and status >= 400):
            raise LabError(f"{method} {path}: HTTP {status}: {text}")
        return json.loads(text) if text else None


class Lab:
    """Context manager: everything made inside is removed on exit."""

    @classmethod
    def from_environment(cls):
        """VNET_CONTROLLER_BINARY, VNET_AGENT_BINARY; VNET_LAB_LOGS keeps logs there."""
        return cls(os.environ["VNET_CONTROLLER_BINARY"], os.environ["VNET_AGENT_BINARY"],
                   keep_logs_in=os.environ.get("VNET_LAB_LOGS"))

    def __init__(self, controller_binary, agent_binary, keep_logs_in=None, prefix=None,
                 directory=None):
        self.prefix = prefix or f"vl{os.getpid() % 100000}"
        self.controller_binary = controller_binary
        self.agent_binary = agent_binary
        if directory:
            os.makedirs(directory, exist_ok=True)
            self.dir = directory
        else:
            self.dir = tempfile.mkdtemp(prefix=f"{self.prefix}-", dir=keep_logs_in)
        self.root_interfaces = []  # made in the machine's own namespace (management)
        self.namespaces = []
        self.processes = []
        self.hosts = {}
        self.vms = {}
        self.controller = None
        self.management = None  # the prefix the machine reaches the lab by, if any

    # --- building -------------------------------------------------------

    def __enter__(self):
        self._old_sigterm = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(
            KeyboardInterrupt()))
        try:
            self.underlay = self.namespace("ul")
            self.underlay.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
            self.underlay.run("ip", "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def namespace(self, suffix):
        ns = Namespace(f"{self.prefix}-{suffix}")
        sh("ip", "netns", "add", ns.name)
        self.namespaces.append(ns)
        ns.run("ip", "link", "set", "lo", "up")
        return ns

    def connect_management(self, address):
        """One veth from the machine's own namespace into the underlay, with
        `address` (e.g. 198.18.0.1/16, the benchmarking range of RFC 2544) on
        the machine's side: a controller there reaches the hosts'
        management addresses inside that prefix (the underlay answers ARP
        for them, proxy ARP), and nothing else of the lab is routed to the
        machine. Call before add_host()."""
        root_side = f"{self.prefix}-mgmt"[:15]
        sh("ip", "link", "add", root_side, "type", "veth", "peer", "name", "mgmt", "netns",
           self.underlay.name)
        self.root_interfaces.append(root_side)
        sh("ip", "addr", "add", address, "dev", root_side)
        sh("ip", "link", "set", root_side, "up")
        network = address.split("/")
        base = network[0].rsplit(".", 2)[0]
        self.underlay.run("ip", "addr", "add", f"{base}.0.2/24", "dev", "mgmt")
        self.underlay.run("ip", "link", "set", "mgmt", "up")
        self.underlay.run("sysctl", "-qw", "net.ipv4.conf.mgmt.proxy_arp=1")
        self.management = f"{base}.0.0/{network[1]}"

    def start_controller(self):
        self.controller = Controller(self, self.controller_binary)
        return self.controller

    def add_host(self, name, pa_gateway, mgmt_gateway, mgmt_address, shared=False, mtu=None,
                 queues=1):
        """A host namespace whose uplink is a veth into the underlay. Routed
        (the default): the underlay side holds the PA subnet's gateway and
        the management gateway. Shared: the underlay side joins one bridge
        that holds them, so every host is on one PA subnet. The host side has
        only its management address: the PA is the agent's to add. `mtu`:
        both ends of the uplink (default 1500). `queues`: receive and
        transmit queues of both ends (the underlay's side spreads what it
        sends to the host over them by flow hash, as a NIC's RSS would)."""
        ns = self.namespace(name)
        ul_side = f"{name}-ul"
        q = ("numtxqueues", str(queues), "numrxqueues", str(queues))
        sh("ip", "link", "add", "name", "uplink", *q, "netns", ns.name, "type", "veth", "peer",
           "name", ul_side, *q, "netns", self.underlay.name)
        if mtu:
            ns.run("ip", "link", "set", "uplink", "mtu", str(mtu))
            self.underlay.run("ip", "link", "set", ul_side, "mtu", str(mtu))
        if shared:
            if not self.underlay.run("ip", "-o", "link", "show", "shared0", check=False):
                self.underlay.run("ip", "link", "add", "shared0", "type", "bridge")
                self.underlay.run("ip", "addr", "add", pa_gateway, "dev", "shared0")
                self.underlay.run("ip", "addr", "add", mgmt_gateway, "dev", "shared0")
                self.underlay.run("ip", "link", "set", "shared0", "up")
            self.underlay.run("ip", "link", "set", ul_side, "master", "shared0")
        else:
            self.underlay.run("ip", "addr", "add", pa_gateway, "dev", ul_side)
            self.underlay.run("ip", "addr", "add", mgmt_gateway, "dev", ul_side)
        self.underlay.run("ip", "link", "set", ul_side, "up")
        ns.run("ip", "addr", "add", mgmt_address, "dev", "uplink")
        ns.run("ip", "link", "set", "uplink", "up")
        if self.management:
            ns.run("ip", "route", "add", self.management, "via", mgmt_gateway.split("/")[0])
        host = Host(self, name, ns)
        host.mgmt_gateway = mgmt_gateway.split("/")[0]
        self.hosts[name] = host
        return host

    def start_agents(self, hosts, extra=()):
        """Enrolls each host with a fresh token, starts its agent (towards the
        controller in the underlay, by the host's management gateway, with
        `extra` arguments), and waits until the controller shows every one of
        them realized."""
        for host in hosts:
            enrollment = self.controller.call("POST", f"/hosts/{host.id}/enrollment")
            host.start_agent(f"{host.mgmt_gateway}:6641", enrollment, extra)
        for host in hosts:
            host.wait_realized()

    def add_vm(self, name, host, interface, mac, address, gateway=None, mtu=None):
        """A VM namespace with eth0 (MAC, CA) whose peer `interface` is in the
        host; `mtu` on both ends (default 1500)."""
        ns = self.namespace(name)
        sh("ip", "link", "add", "eth0", "netns", ns.name, "address", mac, "type", "veth", "peer",
           "name", interface, "netns", host.ns.name)
        if mtu:
            ns.run("ip", "link", "set", "eth0", "mtu", str(mtu))
            host.ns.run("ip", "link", "set", interface, "mtu", str(mtu))
        # TX checksum offload would hand the engine partial checksums (DESIGN.md section 5).
        ns.run("ethtool", "-K", "eth0", "tx", "off")
        ns.run("sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1")
        if address:
            ns.run("ip", "addr", "add", address, "dev", "eth0")
        ns.run("ip", "link", "set", "eth0", "up")
        if gateway:
            ns.run("ip", "route", "add", "default", "via", gateway)
        host.ns.run("ip", "link", "set", interface, "up")
        vm = Vm(name, ns, host, interface, mac)
        self.vms[name] = vm
        return vm

    def add_interface(self, vm, name, interface, mac, address, mtu=None):
        """A second interface `name` of `vm` (a VM with two NICs, such as a
        router), whose peer `interface` is in the VM's host."""
        sh("ip", "link", "add", name, "netns", vm.ns.name, "address", mac, "type", "veth", "peer",
           "name", interface, "netns", vm.host.ns.name)
        if mtu:
            vm.ns.run("ip", "link", "set", name, "mtu", str(mtu))
            vm.host.ns.run("ip", "link", "set", interface, "mtu", str(mtu))
        vm.ns.run("ethtool", "-K", name, "tx", "off")
        vm.ns.run("sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1")
        vm.ns.run("ip", "addr", "add", address, "dev", name)
        vm.ns.run("ip", "link", "set", name, "up")
        vm.host.ns.run("ip", "link", "set", interface, "up")

    def add_internet(self, address="203.0.113.1/24"):
        """The external network of gateway hosts (DESIGN.md section 5,
        scenarios 7 and 8): a namespace whose bridge holds `address` (the
        external pool's gateway, and the server tests talk to). Gateway
        hosts join it with connect_external()."""
        self.internet = self.namespace("inet")
        self.internet.run("ip", "link", "add", "br0", "type", "bridge")
        self.internet.run("ip", "addr", "add", address, "dev", "br0")
        self.internet.run("ip", "link", "set", "br0", "up")
        self.internet.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        return self.internet

    def connect_external(self, host, interface="ext0"):
        """A veth from the host (`interface`, without address: the agent adds
        its gateways' addresses) into the internet namespace's bridge."""
        peer = f"{host.name}-x"
        sh("ip", "link", "add", "name", interface, "netns", host.ns.name, "type", "veth", "peer",
           "name", peer, "netns", self.internet.name)
        host.ns.run("ip", "link", "set", interface, "up")
        host.ns.run("sysctl", "-qw", f"net.ipv6.conf.{interface}.disable_ipv6=1")
        self.internet.run("ip", "link", "set", peer, "master", "br0")
        # TX checksum offload would hand the engine partial checksums
        # (DESIGN.md section 5): the internet's servers send through these.
        self.internet.run("ethtool", "-K", peer, "tx", "off")
        self.internet.run("ethtool", "-K", "br0", "tx", "off")
        self.internet.run("ip", "link", "set", peer, "up")

    def blue_on_two_hosts(self, names, vms, mtu=None, queues=1, vm_mtu=None):
        """The smaller labs' shape: a controller, hosts `names` (two) in
        routed PA subnets 192.168.1.0/24 and 192.168.2.0/24 (PAs .10 and
        .20) with uplinks of `mtu` and `queues`, and a Blue network with one
        subnet 10.0.0.0/24 (VSID 5001, pool .5-.50). `vms`: (name, n, ip or
        None for DHCP, mac, host index, interface). Returns (controller,
        hosts, {name: Vm}); each Vm has its NIC as `nic`."""
        c = self.start_controller()
        hosts = [self.add_host(names[0], "192.168.1.1/24", "10.98.1.1/24", "10.98.1.10/24",
                               mtu=mtu, queues=queues),
                 self.add_host(names[1], "192.168.2.1/24", "10.98.2.1/24", "10.98.2.20/24",
                               mtu=mtu, queues=queues)]
        c.underlay(["192.168.1.0/24", "192.168.2.0/24"])
        c.place_host(hosts[0], 0x101, "192.168.1.10")
        c.place_host(hosts[1], 0x102, "192.168.2.20")
        c.vm_network(0xb1, "Blue")
        c.vm_subnet(0xb10, 0xb1, "10.0.0.0/24", 5001, ("10.0.0.5", "10.0.0.50"), ["10.0.0.2"])
        made = {}
        for name, n, ip, mac, index, interface in vms:
            host = hosts[index]
            nic = c.vm_nic(n, 0xb10, name, mac, ip, host.id, interface)
            vm = self.add_vm(name, host, interface, mac, f"{ip}/24" if ip else None,
                             "10.0.0.1" if ip else None, mtu=vm_mtu)
            vm.nic = nic
            made[name] = vm
        return c, hosts, made

    # --- tearing down ---------------------------------------------------

    def close(self):
        for p in reversed(self.processes):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self.processes.clear()
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns.name, check=False)
        self.namespaces.clear()
        for interface in self.root_interfaces:
            sh("ip", "link", "del", interface, check=False)
        self.root_interfaces.clear()
        if hasattr(self, "_old_sigterm"):
            signal.signal(signal.SIGTERM, self._old_sigterm)

    def log(self, name):
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()


class Host:
    def __init__(self, lab, name, ns):
        self.lab = lab
        self.name = name
        self.ns = ns
        self.id = None
        self.agent = None
        self.mgmt_gateway = None
        self.state = os.path.join(lab.dir, f"agent-{name}")

    def start_agent(self, controller_address, enrollment=None, extra=()):
        args = [self.lab.agent_binary, "--controller", controller_address, "--host-id", self.id,
                "--state-dir", self.state, "--uplink", "uplink", "--log-level", "debug", *extra]
        if enrollment:
            # As the enrollment command does it: the token in a file, not in ps.
            token_file = os.path.join(self.lab.dir, f"enrollment-{self.name}.token")
            with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(enrollment["token"] + "\n")
            args += ["--enrollment-token-file", token_file, "--ca-sha256",
                     enrollment["ca_sha256"]]
        self.agent = self.ns.popen(args, os.path.join(self.lab.dir, f"agent-{self.name}.log"))
        self.lab.processes.append(self.agent)
        return self.agent

    def stop_agent(self):
        if self.agent and self.agent.poll() is None:
            os.killpg(self.agent.pid, signal.SIGTERM)
            self.agent.wait(timeout=10)
        return self.agent.returncode

    def wait_realized(self, timeout=20):
        """Until the controller shows the host connected with its newest
        generation realized and nothing failing; returns the host object."""
        c = self.lab.controller

        def realized():
            h = c.call("GET", f"/hosts/{self.id}")
            ok = (h["connected"] and h["desired_generation"] > 0 and
                  h["realized_generation"] == h["desired_generation"] and
                  h["configuration_state"]["status"] == "success")
            return h if ok else None
        try:
            return wait_until(realized, timeout=timeout, interval=0.1,
                              what=f"{self.name} realized")
        except LabError:
            raise LabError(f"{self.name} not realized: {c.call('GET', f'/hosts/{self.id}')}")

    def show(self, what):
        out = self.ns.run(self.lab.agent_binary, "show", what, "-o", "json", "--state-dir",
                          self.state)
        return json.loads(out)

    def counters(self):
        return self.show("counters")


class LabTestCase(unittest.TestCase):
    """A test class sharing one lab: build() makes it once for the class; it
    is removed after the last test, or at once when build() fails (after
    printing the logs)."""

    lab = None
    logs = ("controller.log",)

    @classmethod
    def setUpClass(cls):
        cls.lab = Lab.from_environment()
        cls.lab.__enter__()
        try:
            cls.build()
        except BaseException:
            cls.dump_logs()
            cls.lab.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.lab:
            cls.lab.close()

    @classmethod
    def build(cls):
        raise NotImplementedError

    @classmethod
    def dump_logs(cls):
        names = list(cls.logs) + [f"agent-{h}.log" for h in cls.lab.hosts]
        for name in names:
            text = cls.lab.log(name)
            sys.stderr.write(f"--- {name} (last 40 lines)\n" +
                             "\n".join(text.splitlines()[-40:]) + "\n")
        for host in cls.lab.hosts.values():
            if host.agent is None:
                continue
            try:
                sys.stderr.write(f"--- {host.name} counters\n{host.counters()}\n")
            except LabError as e:
                sys.stderr.write(f"--- {host.name} counters: {e}\n")

    def setUp(self):
        for host in self.lab.hosts.values():
            if host.agent is not None:
                self.assertIsNone(host.agent.poll(), f"the agent of {host.name} exited")


def skip_unless_root(what):
    """Exits 77 (ctest's skip) without root, or 1 where skips are failures."""
    if os.geteuid() != 0:
        print(f"SKIP: {what} needs root (network namespaces, XDP, AF_XDP)")
        sys.exit(1 if os.environ.get("VNET_REQUIRE_PRIVILEGED") == "1" else 77)


TCP_SERVER = r"""
import hashlib, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001)); s.listen(1)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while n < 4 << 20:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
c.sendall(h.hexdigest().encode()); c.close()
"""

TCP_CLIENT = r"""
import hashlib, os, socket, sys
data = os.urandom(4 << 20)
c = socket.create_connection((sys.argv[1], 5001), timeout=20)
c.sendall(data)
print(hashlib.sha256(data).hexdigest(), c.recv(64).decode())
"""


def tcp_transfer(client, server, address, timeout=60):
    """4 MiB of random bytes from client to server (VMs) over TCP; returns the
    SHA-256 the client sent and the one the server computed."""
    listener = server.ns.popen([PYTHON, "-c", TCP_SERVER],
                               os.path.join(client.host.lab.dir, f"tcp-{server.name}.log"))
    try:
        time.sleep(0.2)  # listening
        sent, received = client.ns.python(TCP_CLIENT, address, timeout=timeout).split()
    finally:
        listener.kill()
        listener.wait()
    return sent, received


COUNT_ECHO_REQUESTS = r"""
import sys
from scapy.all import sniff
got = sniff(iface="eth0", filter="icmp[icmptype] == icmp-echo", timeout=float(sys.argv[1]))
print(len(got))
"""


def echo_requests_at(vm, action):
    """How many ICMP echo requests reach `vm`'s eth0 while action() runs: a
    capture on the VM's own interface, so isolation is asserted on what
    arrives, not only on a failed ping."""
    log = f"capture-{vm.name}-{time.monotonic_ns()}.log"
    capture = vm.ns.popen([PYTHON, "-c", COUNT_ECHO_REQUESTS, "3"],
                          os.path.join(vm.host.lab.dir, log))
    time.sleep(1.0)  # capturing
    action()
    capture.wait(timeout=30)
    return int(vm.host.lab.log(log).split()[-1])


COUNT_MATCHING = r"""
import sys
from scapy.all import sniff
got = sniff(iface="eth0", filter=sys.argv[2], timeout=float(sys.argv[1]))
print(len(got))
"""


def frames_at(vms, bpf_filter, action, seconds=3):
    """How many frames matching `bpf_filter` reach each VM's eth0 while
    action() runs, captured on the VMs' own interfaces at once."""
    captures = []
    for vm in vms:
        log = f"capture-{vm.name}-{time.monotonic_ns()}.log"
        captures.append((vm, log, vm.ns.popen([PYTHON, "-c", COUNT_MATCHING, str(seconds),
                                               bpf_filter],
                                              os.path.join(vm.host.lab.dir, log))))
    time.sleep(1.0)  # capturing
    action()
    counts = []
    for vm, log, capture in captures:
        capture.wait(timeout=30)
        counts.append(int(vm.host.lab.log(log).split()[-1]))
    return counts


class Vm:
    def __init__(self, name, ns, host, interface, mac):
        self.name = name
        self.ns = ns
        self.host = host
        self.interface = interface
        self.mac = mac

    def ping(self, address, count=3, interval=0.2, timeout=1, check=False):
        """Returns the number of replies received."""
        out = self.ns.run("ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W",
                          str(timeout), address, check=False, timeout=count * interval + 30)
        for line in out.splitlines():
            if "received" in line:
                return int(line.split(",")[1].split()[0])
        return 0

    def rx_packets(self):
        return self.ns.counter("eth0", "rx_packets")


class OvsSwitch:
    """Open vSwitch with the userspace (netdev) datapath in a host namespace:
    ovsdb-server and ovs-vswitchd in the foreground as lab processes, their
    database, sockets and logs in the lab's directory. The physical port
    (the uplink veth) is on br-phy, which holds the tunnel endpoint address,
    as OVS's userspace-tunneling guide has it; VMs and tunnels are on br-int."""

    def __init__(self, lab, host, endpoint, gateway, uplink_type=None, cpu=None):
        self.lab = lab
        self.ns = host.ns
        self.dir = os.path.join(lab.dir, f"ovs-{host.name}")
        os.makedirs(self.dir)
        self.env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_LOGDIR=self.dir, OVS_DBDIR=self.dir,
                        OVS_SYSCONFDIR=self.dir, OVS_PKGDATADIR="/usr/share/openvswitch")
        db = os.path.join(self.dir, "conf.db")
        sh("ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
        self.socket = os.path.join(self.dir, "db.sock")
        lab.processes.append(self.ns.popen(
            ["ovsdb-server", db, f"--remote=punix:{self.socket}", "--no-chdir",
             f"--unixctl={self.dir}/ovsdb-server.ctl", f"--log-file={self.dir}/ovsdb-server.log"],
            os.path.join(self.dir, "ovsdb-server.out"), env=self.env))
        wait_until(lambda: os.path.exists(self.socket), what="ovsdb-server")
        self.vsctl("--no-wait", "init")
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        lab.processes.append(self.ns.popen(
            [*pin, "ovs-vswitchd", f"unix:{self.socket}", "--no-chdir",
             f"--unixctl={self.dir}/vswitchd.ctl", f"--log-file={self.dir}/ovs-vswitchd.log"],
            os.path.join(self.dir, "ovs-vswitchd.out"), env=self.env))
        wait_until(lambda: os.path.exists(f"{self.dir}/vswitchd.ctl"), what="ovs-vswitchd")
        uplink_mac = self.ns.run("cat", "/sys/class/net/uplink/address").strip()
        self.vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev",
                   f"other_config:hwaddr={uplink_mac}")
        if uplink_type:
            self.vsctl("add-port", "br-phy", "uplink", "--", "set", "interface", "uplink",
                       f"type={uplink_type}")
        else:
            self.vsctl("add-port", "br-phy", "uplink")
        self.ns.run("ip", "addr", "flush", "dev", "uplink")
        self.ns.run("ip", "addr", "add", endpoint, "dev", "br-phy")
        self.ns.run("ip", "link", "set", "br-phy", "up")
        self.ns.run("ip", "route", "replace", "192.168.0.0/16", "via", gateway)
        self.vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev")

    def vsctl(self, *args):
        return self.ns.run("ovs-vsctl", f"--db=unix:{self.socket}", "--timeout=10", *args)

    def appctl(self, *args):
        return self.ns.run("ovs-appctl", "-t", f"{self.dir}/vswitchd.ctl", *args)

    def add_gre_port(self, name, remote_ip, key):
        self.vsctl("add-port", "br-int", name, "--", "set", "interface", name, "type=gre",
                   f"options:remote_ip={remote_ip}", f"options:key={key}")

    def add_vm_port(self, interface):
        self.vsctl("add-port", "br-int", interface)


# A VM's DHCP exchange (scapy, run in the VM with the NIC's MAC): DISCOVER,
# then REQUEST of what was offered; prints the ACK's address, router, DNS
# server and interface MTU (option 26).
DHCP_CLIENT = r"""
import sys
from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, srp1, mac2str
conf.verb = 0
conf.checkIPaddr = False
mac = sys.argv[1]
base = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
offer = srp1(base / BOOTP(chaddr=mac2str(mac), xid=5, flags=0x8000) /
             DHCP(options=[("message-type", "discover"), "end"]), iface="eth0", timeout=5)
o = dict(x for x in offer[DHCP].options if isinstance(x, tuple))
ack = srp1(base / BOOTP(chaddr=mac2str(mac), xid=6, flags=0x8000) /
           DHCP(options=[("message-type", "request"), ("requested_addr", offer[BOOTP].yiaddr),
                         ("server_id", o["server_id"]), "end"]), iface="eth0", timeout=5)
a = dict(x for x in ack[DHCP].options if isinstance(x, tuple))
print(ack[BOOTP].yiaddr, a["router"], a["name_server"], a["interface-mtu"])
"""
