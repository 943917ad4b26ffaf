#!/usr/bin/env python3
"""The Debian packages an operator installs (packaging/README.md): built with
cpack from this build directory, their contents and control fields read back,
installed with dpkg into a scratch root (never the machine's own), the units
checked with systemd-analyze, and the installed controller started from the
scratch root with its packaged configuration: it tells systemd it is ready
(Type=notify) and serves the packaged console."""
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

BUILD = os.environ.get("VNET_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build/main"))


def skip_or_fail(reason):
    print(f"SKIP: {reason}")
    sys.exit(1 if os.environ.get("VNET_REQUIRE_PRIVILEGED") == "1" else 77)


class Packages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vnet-packages-")
        out = os.path.join(cls.tmp, "debs")
        subprocess.run(["cpack", "-G", "DEB", "-B", out, "--config", os.path.join(BUILD, "CPackConfig.cmake")],
                       check=True, capture_output=True, text=True, cwd=BUILD, timeout=300)
        cls.debs = {re.sub(r"_.*", "", f): os.path.join(out, f) for f in os.listdir(out) if f.endswith(".deb")}
        cls.root = os.path.join(cls.tmp, "root")
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
            os.makedirs(os.path.join(cls.root, d))
        open(os.path.join(cls.root, "var/lib/dpkg/status"), "w").close()
        # Maintainer scripts run outside the scratch root with DPKG_ROOT set
        # (they touch only what is under it); libraries are the machine's.
        cls.install = subprocess.run(
            ["dpkg", f"--root={cls.root}", "--force-script-chrootless", "--force-depends", "--log=/dev/null",
             "-i", cls.debs["vnet-controller"], cls.debs["vnet-agent"]],
            capture_output=True, text=True, timeout=120)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, package, name):
        return subprocess.run(["dpkg-deb", "-f", self.debs[package], name], check=True, capture_output=True,
                              text=True).stdout.strip()

    def contents(self, package):
        listing = subprocess.run(["dpkg-deb", "-c", self.debs[package]], check=True, capture_output=True,
                                 text=True).stdout
        return {line.split()[-1].lstrip("."): line.split()[0] for line in listing.splitlines()}

    def test_two_packages_with_what_each_needs(self):
        self.assertEqual(sorted(self.debs), ["vnet-agent", "vnet-controller"])
        controller = self.contents("vnet-controller")
        for path, mode in [("/usr/bin/vnet-controller", "-rwxr-xr-x"), ("/usr/bin/vnetctl", "-rwxr-xr-x"),
                           ("/usr/share/vnet/web/index.html", "-rw-r--r--"),
                           ("/usr/share/vnet/web/app/main.js", "-rw-r--r--"),
                           ("/usr/share/vnet/web/vendor/htm-preact-standalone.mjs", "-rw-r--r--"),
                           ("/usr/lib/systemd/system/vnet-controller.service", "-rw-r--r--"),
                           ("/usr/lib/tmpfiles.d/vnet-controller.conf", "-rw-r--r--"),
                           ("/etc/vnet/controller.toml", "-rw-r--r--")]:
            self.assertEqual(controller.get(path), mode, path)
        agent = self.contents("vnet-agent")
        for path in ["/usr/bin/vnet-agent", "/usr/lib/systemd/system/vnet-agent.service",
                     "/usr/lib/tmpfiles.d/vnet-agent.conf", "/etc/vnet/agent.toml"]:
            self.assertIn(path, agent)
        self.assertNotIn("/usr/bin/vnet-agent", controller)
        # The libraries each links, found by dpkg-shlibdeps.
        self.assertIn("libsqlite3-0", self.field("vnet-controller", "Depends"))
        self.assertIn("libxdp1", self.field("vnet-agent", "Depends"))
        self.assertNotIn("libxdp1", self.field("vnet-controller", "Depends"))
        # Stripped: a few MB, not the build's debug binaries.
        self.assertLess(os.path.getsize(self.debs["vnet-controller"]), 10 * 1024 * 1024)

    def test_installed_into_a_scratch_root_with_its_directories_and_conffiles(self):
        self.assertEqual(self.install.returncode, 0, self.install.stderr)
        for package in ("vnet-controller", "vnet-agent"):
            status = subprocess.run(["dpkg", f"--root={self.root}", "-s", package], capture_output=True, text=True)
            self.assertIn("Status: install ok installed", status.stdout)
        status = subprocess.run(["dpkg", f"--root={self.root}", "-s", "vnet-controller"], capture_output=True,
                                text=True).stdout
        self.assertRegex(status, r"Conffiles:\n /etc/vnet/controller.toml [0-9a-f]{32}")
        # postinst made the data and state directories, root's alone.
        for d in ("var/lib/vnet", "var/lib/vnet-agent"):
            st = os.stat(os.path.join(self.root, d))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, d)
            self.assertEqual(st.st_uid, 0, d)
        version = subprocess.run([os.path.join(self.root, "usr/bin/vnetctl"), "--version"], capture_output=True,
                                 text=True)
        self.assertRegex(version.stdout, r"^vnetctl \d+\.\d+\.\d+")

    def test_units_verify(self):
        # systemd-analyze checks the directives and that ExecStart runs; the
        # binaries are in the scratch root, so the copies point there.
        units = os.path.join(self.tmp, "units")
        os.makedirs(units, exist_ok=True)
        for unit in ("vnet-controller.service", "vnet-agent.service"):
            with open(os.path.join(self.root, "usr/lib/systemd/system", unit)) as f:
                text = f.read()
            self.assertIn("Type=notify", text)
            self.assertIn("StateDirectoryMode=0700", text)
            text = text.replace("/usr/bin/", os.path.join(self.root, "usr/bin/"))
            text = text.replace("file:/usr/share/doc", "file:" + os.path.join(self.root, "usr/share/doc"))
            with open(os.path.join(units, unit), "w") as f:
                f.write(text)
            r = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(units, unit)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((r.returncode, r.stderr), (0, ""), unit)

    def test_the_installed_controller_runs_on_its_packaged_configuration(self):
        # The packaged file, with the flags a test must override (flags win):
        # a scratch data directory, free ports, the scratch root's console.
        data = os.path.join(self.tmp, "data")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_path = os.path.join(self.tmp, "notify")
        notify.bind(notify_path)
        notify.settimeout(15)
        log = open(os.path.join(self.tmp, "controller.log"), "w+")
        proc = subprocess.Popen(
            [os.path.join(self.root, "usr/bin/vnet-controller"), "--config",
             os.path.join(self.root, "etc/vnet/controller.toml"), "--data-dir", data, "--listen", "127.0.0.1:0",
             "--southbound", "127.0.0.1:0", "--web-dir", os.path.join(self.root, "usr/share/vnet/web")],
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, NOTIFY_SOCKET=notify_path))
        try:
            message = notify.recv(4096).decode()
            self.assertIn("READY=1", message)
            self.assertIn("STATUS=serving the API on port", message)
            port = re.search(r"API on port (\d+)", message).group(1)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
                self.assertIn("vnet", r.read().decode())
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                self.assertEqual(json.loads(r.read()), {"status": "ok"})
            self.assertEqual(stat.S_IMODE(os.stat(data).st_mode), 0o700)
        finally:
            proc.terminate()
            proc.wait(15)
            notify.close()
            log.close()
        # A misspelt key stops the start and names what it may have meant.
        bad = os.path.join(self.tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('lisen = "127.0.0.1:0"\n')
        r = subprocess.run([os.path.join(self.root, "usr/bin/vnet-controller"), "--config", bad],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn('"lisen" is not an option (did you mean listen?)', r.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip_or_fail("installing packages into a scratch root with their owners needs root")
    for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps", "systemd-analyze"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed (scripts/setup installs it)")
    unittest.main(verbosity=2)
