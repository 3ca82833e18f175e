#!/usr/bin/env python3
"""`cmake --install` (what `make install` runs): the files a user gets, where
GNUInstallDirs puts them for a prefix and DESTDIR, and that each works: the
binary runs, every command has a man page that renders without a warning,
the systemd unit passes `systemd-analyze verify`, the example config is
valid, a reinstall keeps an edited config, and the bash and zsh completions
offer heed's commands, subcommands and flags.

The install is made from the build directory of HEED_BIN into temporary
directories; nothing is written outside them."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HEED, ROOT, run  # noqa: E402

BUILD = os.path.dirname(os.path.abspath(HEED))
SECTION = {"ping": "8", "agent": "8"}  # the rest are section 1


def commands():
    """The commands `heed --help` lists (but help)."""
    out = run([HEED, "--help"], check=True).stdout
    block = out.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    names = [line.split()[0] for line in block.splitlines() if line.startswith("  ")]
    return [n for n in names if n != "help"]


def usage_flags(cmd):
    """The flags of `heed help CMD`: those of the usage lines and those that
    open a table line, as a reader of the help text would list them."""
    text = run([HEED, "help", cmd], check=True).stdout
    flags = set()
    syn = text.split("\n\n", 1)[0]
    flags.update(re.findall(r"(?<![\w-])(--?[a-zA-Z][a-zA-Z0-9-]*)", syn))
    for line in text.splitlines():
        m = re.match(r"^ +(-[-\w, ]*?)(?:  | [A-Z]|$)", line)
        if m:
            flags.update(re.findall(r"--?[a-zA-Z0-9][a-zA-Z0-9-]*", m.group(1)))
    return flags


def usage_subcommands(cmd):
    """The subcommands in the usage lines of `heed help CMD`: the lower-case
    words after "heed CMD" ("heed checks rm|pause|resume ID")."""
    syn = run([HEED, "help", cmd], check=True).stdout.split("\n\n", 1)[0]
    subs = set()
    for m in re.finditer(r"\bheed %s ([a-z][a-z|]*)(?:\s|$)" % re.escape(cmd), syn):
        subs.update(m.group(1).split("|"))
    return subs


def install(reg, prefix, destdir=None):
    env = dict(os.environ)
    env.pop("DESTDIR", None)
    if destdir:
        env["DESTDIR"] = destdir
    return run(["cmake", "--install", BUILD, "--prefix", prefix], env=env, check=True,
               timeout=120)


class InstallTest(harness.HeedTestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(os.path.join(BUILD, "cmake_install.cmake")):
            raise AssertionError("%s is not a CMake build directory" % BUILD)

    def test_destdir_layout(self):
        """DESTDIR + prefix /usr: every file in its GNUInstallDirs place,
        the config in /etc, the unit naming /usr/bin/heed."""
        dest = self.reg.tempdir()
        install(self.reg, "/usr", dest)
        files = set()
        for d, _, names in os.walk(dest):
            files.update(os.path.relpath(os.path.join(d, n), dest) for n in names)
        want = {
            "usr/bin/heed",
            "usr/share/bash-completion/completions/heed",
            "usr/share/zsh/site-functions/_heed",
            "usr/lib/systemd/system/heed.service",
            "usr/share/doc/heed/examples/heed.yaml",
            "etc/heed/heed.yaml",
            "usr/share/man/man1/heed.1",
            "usr/share/man/man5/heed.yaml.5",
        }
        for cmd in commands():
            want.add("usr/share/man/man%s/heed-%s.%s" % (SECTION.get(cmd, "1"), cmd,
                                                        SECTION.get(cmd, "1")))
        self.assertEqual(sorted(want - files), [], "missing from the install")
        self.assertEqual(sorted(files - want), [], "installed but not expected")
        p = run([os.path.join(dest, "usr/bin/heed"), "--version"], check=True)
        self.assertRegex(p.stdout, r"^heed \d+\.\d+\.\d+")
        with open(os.path.join(dest, "usr/lib/systemd/system/heed.service")) as f:
            unit = f.read()
        self.assertIn("\nExecStart=/usr/bin/heed agent -c /etc/heed/heed.yaml\n", unit)

    def test_man_pages(self):
        """A page per command and heed.yaml(5), each rendering without a groff
        warning, each listing its command's flags."""
        if not shutil.which("man"):
            self.skipTest("man (man-db) is not installed")
        dest = self.reg.tempdir()
        install(self.reg, "/usr", dest)
        man = os.path.join(dest, "usr/share/man")
        env = dict(os.environ, MANWIDTH="100", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="0")

        def render(path):
            p = run(["man", "--warnings", "-E", "UTF-8", "-l", path], env=env, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, "", "%s: groff warnings" % path)
            # man pipes through col -b when not on a terminal; strip what is left.
            return re.sub(r".\x08", "", p.stdout).replace("\u2010", "-").replace("\u2212", "-")

        main = render(os.path.join(man, "man1/heed.1"))
        for cmd in commands():
            sec = SECTION.get(cmd, "1")
            self.assertIn("heed-%s(%s)" % (cmd, sec), main)
            text = render(os.path.join(man, "man%s/heed-%s.%s" % (sec, cmd, sec)))
            self.assertRegex(text, r"(?m)^NAME\n +heed-%s +- +\S" % re.escape(cmd))
            self.assertIn("SYNOPSIS", text)
            # hyphenation may break a flag at its own hyphen: compare unbroken text
            flat = re.sub(r"-\n\s*", "-", text)
            for flag in usage_flags(cmd):
                self.assertRegex(flat, r"(?<![\w-])%s(?![\w-])" % re.escape(flag),
                                 "heed-%s.%s lacks %s" % (cmd, sec, flag))
        conf = render(os.path.join(man, "man5/heed.yaml.5"))
        with open(os.path.join(ROOT, "docs/config.md")) as f:
            keys = re.findall(r"^\| `([a-z_]+)` \|", f.read(), re.MULTILINE)
        self.assertGreater(len(keys), 40)
        for key in keys:
            self.assertRegex(conf, r"(?m)^ +%s\b" % re.escape(key), "heed.yaml(5) lacks %s" % key)

    def test_systemd_unit(self):
        """The unit, installed under a real prefix so its ExecStart exists,
        passes systemd-analyze verify without a message, and has the
        hardening the issue asks for."""
        prefix = self.reg.tempdir()
        install(self.reg, prefix)
        path = os.path.join(prefix, "lib/systemd/system/heed.service")
        with open(path) as f:
            unit = f.read()
        directives = dict(re.findall(r"(?m)^(\w+)=(.*)$", unit))
        self.assertEqual(directives["ExecStart"],
                         "%s/bin/heed agent -c %s/etc/heed/heed.yaml" % (prefix, prefix))
        self.assertEqual(directives["Type"], "notify")
        self.assertEqual(directives["NoNewPrivileges"], "yes")
        self.assertEqual(directives["ProtectSystem"], "strict")
        self.assertEqual(directives["User"], "heed")
        self.assertEqual(directives["StateDirectory"], "heed")
        self.assertEqual(directives["AmbientCapabilities"], "CAP_NET_RAW")
        self.assertEqual(directives["CapabilityBoundingSet"], "CAP_NET_RAW")
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        p = run(["systemd-analyze", "verify", "--man=no", path], timeout=60)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        # The check does catch a mistake: a misspelt directive is reported.
        bad = os.path.join(prefix, "heed-bad.service")
        with open(bad, "w") as f:
            f.write(unit.replace("NoNewPrivileges=", "NoNewPrivilege="))
        p = run(["systemd-analyze", "verify", "--man=no", bad], timeout=60)
        self.assertIn("Unknown key 'NoNewPrivilege'", p.stdout + p.stderr)

    def test_example_config(self):
        """The installed example is valid, its commented examples too; a
        second install keeps an edited config."""
        prefix = self.reg.tempdir()
        install(self.reg, prefix)
        conf = os.path.join(prefix, "etc/heed/heed.yaml")
        data = os.path.join(self.reg.tempdir(), "data")
        p = run([HEED, "agent", "--validate", "-c", conf, "--data-dir", data])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout + p.stderr, r"ok \(1 checks")
        with open(conf) as f:
            text = f.read()
        uncommented = re.sub(r"(?m)^  # (- |  )", r"  \1", text)
        self.assertNotEqual(uncommented, text)
        full = os.path.join(prefix, "full.yaml")
        with open(full, "w") as f:
            f.write(uncommented)
        p = run([HEED, "agent", "--validate", "-c", full, "--data-dir", data])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout + p.stderr, r"ok \(4 checks")
        with open(conf, "a") as f:
            f.write("node: edited\n")
        out = install(self.reg, prefix).stdout
        self.assertIn("Kept: %s" % conf, out)
        with open(conf) as f:
            self.assertTrue(f.read().endswith("node: edited\n"))

    def test_compose_example_matches_docs(self):
        """dist/compose.yaml is the compose file docs/containers.md shows."""
        with open(os.path.join(ROOT, "docs/containers.md")) as f:
            block = re.search(r"(?ms)^```yaml\n(services:.*?)^```$", f.read()).group(1)
        with open(os.path.join(ROOT, "dist/compose.yaml")) as f:
            text = f.read()
        self.assertEqual(re.sub(r"(?m)\A(#.*\n)+", "", text), block)

    # --- completion ---------------------------------------------------------

    def bash_complete(self, line, cwd=None, cword=None):
        """COMPREPLY of the installed bash completion for line (its word
        cword, by default the last, is being completed), with the built heed
        first on PATH."""
        words = line.split(" ")
        if cword is None:
            cword = len(words) - 1
        script = ('source "$1"; COMP_CWORD=$2; shift 2; COMP_WORDS=("$@");'
                  ' _heed; printf "%s\\n" "${COMPREPLY[@]}"')
        env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(HEED)) + ":" +
                   os.environ.get("PATH", "/usr/bin:/bin"))
        p = run(["bash", "--norc", "--noprofile", "-c", script, "bash",
                 os.path.join(ROOT, "dist/heed.bash"), str(cword)] + words, env=env, cwd=cwd, check=True)
        return [w for w in p.stdout.split("\n") if w]

    def test_bash_completion(self):
        cmds = commands()
        self.assertGreaterEqual(len(cmds), 10)
        self.assertEqual(usage_subcommands("services"), {"list", "register", "deregister"})
        self.assertEqual(sorted(self.bash_complete("heed ")), sorted(cmds + ["help", "--help", "--version"]))
        self.assertEqual(self.bash_complete("heed wa"), ["wait", "watch"])
        self.assertLessEqual({"add", "get", "list", "pause", "resume", "rm"},
                             set(self.bash_complete("heed checks ")))
        self.assertEqual(sorted(self.bash_complete("heed kv ")), ["delete", "get", "list", "put"])
        self.assertEqual(self.bash_complete("heed wait --att"), ["--attempt-timeout"])
        self.assertEqual(self.bash_complete("heed help pi"), ["ping"])
        for cmd in cmds:
            offered = set(self.bash_complete("heed %s -" % cmd))
            self.assertEqual(offered, usage_flags(cmd), "heed %s -<TAB>" % cmd)
            subs = usage_subcommands(cmd)
            if subs:
                self.assertEqual(set(self.bash_complete("heed %s " % cmd)), subs, cmd)
        d = self.reg.tempdir()
        for name in ("heed.yaml", "other.txt"):
            open(os.path.join(d, name), "w").close()
        self.assertEqual(self.bash_complete("heed agent -c he", cwd=d), ["heed.yaml"])
        after = set(self.bash_complete("heed wait tcp://127.0.0.1:1 -- tru"))
        self.assertIn("true", after)  # a command, from PATH
        self.assertTrue(all(w.startswith("tru") for w in after), after)

    def test_completion_of_check_ids(self):
        """`heed checks get <TAB>` offers a running agent's check IDs, in
        bash and zsh, from --addr on the line; nothing, at once, without an
        agent."""
        port = harness.free_port()
        d = self.reg.tempdir()
        conf = os.path.join(d, "heed.yaml")
        with open(conf, "w") as f:
            f.write("bind: 127.0.0.1:%d\ndata_dir: %s/data\nchecks:\n"
                    "  - {name: web-1, target: 'tcp://127.0.0.1:%d', interval: 1m}\n"
                    "  - {name: db.primary, target: 'file://%s', interval: 1m}\n"
                    % (port, d, harness.free_port(), conf))
        self.reg.spawn_heed(["agent", "-c", conf])
        addr = "127.0.0.1:%d" % port

        def answering():
            return run([HEED, "checks", "list", "--addr", addr], timeout=10).returncode == 0
        harness.wait_until(answering, 20, interval=0.1, what="the agent")
        nobody = "127.0.0.1:%d" % harness.free_port()
        self.assertEqual(self.bash_complete("heed checks get  --addr %s" % nobody, cword=3), [])
        self.assertEqual(sorted(self.bash_complete("heed checks get  --addr %s" % addr,
                                                   cword=3)), ["db.primary", "web-1"])
        self.assertEqual(self.bash_complete("heed checks rm w --addr %s" % addr, cword=3),
                         ["web-1"])
        if shutil.which("zsh"):
            self.assertEqual(sorted(self.zsh_complete("heed checks resume  --addr %s" % addr,
                                                      current=4)), ["db.primary", "web-1"])

    def zsh_complete(self, line, current=None):
        """What the zsh completion hands to compadd/_describe/_files for line
        (its word current, counted from 1, by default the last), with those
        completion-system functions replaced by ones that print."""
        words = line.split(" ")
        script = r'''
compadd() { while [[ $1 != -- ]]; do shift; done; shift; print -rl -- "$@"; }
_describe() { print -rl -- ${(P)${@[-1]}}; }
_files() { print -r -- "FILES $*"; }
_normal() { print -r -- "NORMAL $words"; }
_call_program() { shift; "$@"; }
words=("${@[3,-1]}")
CURRENT=${2:-$#words}
source "$1"
'''
        env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(HEED)) + ":" +
                   os.environ.get("PATH", "/usr/bin:/bin"))
        p = run(["zsh", "-f", "-c", script, "zsh", os.path.join(ROOT, "dist/_heed"),
                 str(current or "")] + words, env=env, check=True)
        return [w for w in p.stdout.split("\n") if w]

    def test_zsh_completion(self):
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed (scripts/deps.sh installs it)")
        cmds = commands()
        got = self.zsh_complete("heed ")
        self.assertEqual([c.split(":")[0] for c in got], cmds + ["help"])
        self.assertTrue(all(":" in c and c.split(":", 1)[1] for c in got), got)
        self.assertEqual(sorted(self.zsh_complete("heed watch ")), ["key", "keyprefix", "service"])
        for cmd in cmds:
            self.assertEqual(set(self.zsh_complete("heed %s -" % cmd)), usage_flags(cmd),
                             "heed %s -<TAB>" % cmd)
            subs = usage_subcommands(cmd)
            if subs:
                self.assertEqual(set(self.zsh_complete("heed %s " % cmd)), subs, cmd)
        self.assertEqual(self.zsh_complete("heed agent --data-dir "), ["FILES -/"])
        self.assertEqual(self.zsh_complete("heed lock k -- sleep "), ["NORMAL sleep "])


if __name__ == "__main__":
    harness.main()
