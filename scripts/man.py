#!/usr/bin/env python3
"""man.py — heed's manual pages, made at build time from what heed says.

A command's page is its `heed help COMMAND` text, so a page can never
describe a flag the binary does not have (or miss one it has):

    man.py command HEED_BIN COMMAND SECTION OUT     heed-COMMAND.SECTION
    man.py main HEED_BIN OUT                         heed.1 (from heed --help)
    man.py config docs/config.md OUT                 heed.yaml.5

The usage text's shape is heed's own convention: `usage:` lines, then
paragraphs; a line "Word(s):" alone starts a section; indented lines are
tables kept as they are; a paragraph opening with "Exit status" becomes the
EXIT STATUS section. docs/config.md is the Markdown reference, turned into
roff: headings, paragraphs, lists, code blocks and tables (a table row
becomes a tagged paragraph, as man pages list options).

Python 3 standard library only; the output is plain man(7) roff.
"""

import re
import subprocess
import sys

DATE = "2026"  # no date from the clock: builds are reproducible
SOURCE = "heed"
MANUAL = "heed manual"

# Where each command's page lives: ping and agent are for administrators (8),
# as fping(8) and consul's daemon; the rest are user commands (1).
SECTIONS = {"ping": "8", "agent": "8"}


def section_of(cmd):
    return SECTIONS.get(cmd, "1")


def esc(text):
    """Escapes text for roff: backslashes, and a leading . or ' of a line."""
    text = text.replace("\\", "\\e")
    text = text.replace("-", "\\-")
    return re.sub(r"(?m)^([.'])", r"\\&\1", text)


def inline_md(text):
    """Markdown inline markup to roff fonts: `code` bold, links as their text."""
    out = []
    pos = 0
    for m in re.finditer(r"`([^`]+)`|\[([^\]]+)\]\(([^)]+)\)|\*\*([^*]+)\*\*", text):
        out.append(esc(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\fB" + esc(m.group(1)) + "\\fR")
        elif m.group(2) is not None:
            label, href = m.group(2), m.group(3)
            out.append(esc(label))
            if not href.startswith("#"):
                out.append(" (" + esc(href if "/" in href else "docs/" + href) + ")")
        else:
            out.append("\\fB" + esc(m.group(4)) + "\\fR")
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def header(name, section, summary):
    return [
        '.TH "%s" "%s" "%s" "%s" "%s"' % (esc(name.upper()), section, DATE, SOURCE, MANUAL),
        ".SH NAME",
        "%s \\- %s" % (esc(name), esc(summary)),
    ]


def heed_output(heed, args):
    res = subprocess.run([heed] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=30, check=False)
    if res.returncode != 0:
        sys.exit("man.py: %s %s exited %d: %s" % (heed, " ".join(args), res.returncode,
                                                  res.stderr.decode(errors="replace")))
    return res.stdout.decode()


def command_summaries(heed):
    """{command: summary} from the command list of `heed --help`."""
    out = {}
    in_list = False
    for line in heed_output(heed, ["--help"]).splitlines():
        if line == "commands:":
            in_list = True
            continue
        if in_list:
            m = re.match(r"^  (\S+)\s+(.*)$", line)
            if not m:
                break
            if m.group(1) != "help":
                out[m.group(1)] = m.group(2)
    return out


def usage_body(text):
    """roff lines for a usage text: SYNOPSIS, DESCRIPTION and its sections."""
    lines = text.rstrip("\n").split("\n")
    out = [".SH SYNOPSIS", ".nf"]
    i = 0
    while i < len(lines) and lines[i].strip():
        line = lines[i]
        if line.startswith("usage: "):
            line = line[len("usage: "):]
        else:
            line = line.strip()  # a continuation, aligned under the first line
            line = "    " + line
        out.append(esc(line))
        i += 1
    out.append(".fi")
    out.append(".SH DESCRIPTION")
    paras = []
    cur = []
    for line in lines[i:]:
        if not line.strip():
            if cur:
                paras.append(cur)
                cur = []
            continue
        # "Flags:" alone on a line is a heading even without a blank line after it.
        if re.match(r"^[A-Z][A-Za-z ]*:$", line):
            if cur:
                paras.append(cur)
            paras.append([line])
            cur = []
            continue
        cur.append(line)
    if cur:
        paras.append(cur)
    for para in paras:
        first = para[0]
        if len(para) == 1 and re.match(r"^[A-Z][A-Za-z ]*:$", first):
            out.append(".SH " + esc(first[:-1].upper()))
            continue
        if first.startswith("Exit status"):
            out.append(".SH EXIT STATUS")
            if first.startswith("Exit status:"):
                first = first[len("Exit status:"):].lstrip()
                para = [first[:1].upper() + first[1:]] + para[1:]
        if any(line.startswith(" ") for line in para):
            # A table: flags, targets, examples. Kept as laid out.
            out += [".PP", ".nf", ".RS 2"]
            out += [esc(line) for line in para]
            out += [".RE", ".fi"]
        else:
            out.append(".PP")
            out.append(esc(" ".join(line.strip() for line in para)))
    return out


def see_also(pages):
    return [".SH SEE ALSO", ",\n".join("\\fB%s\\fR(%s)" % (esc(n), s) for n, s in pages)]


def page_command(heed, cmd, section):
    summaries = command_summaries(heed)
    if cmd not in summaries:
        sys.exit("man.py: heed --help lists no command %r" % cmd)
    out = header("heed-" + cmd, section, summaries[cmd])
    out += usage_body(heed_output(heed, ["help", cmd]))
    refs = [("heed", "1")]
    if cmd == "agent":
        refs.append(("heed.yaml", "5"))
    if cmd == "ping":
        refs.append(("fping", "8"))
    out += see_also(refs)
    return out


def page_main(heed):
    summaries = command_summaries(heed)
    out = header("heed", "1", "is it up, is it ready, where is it?")
    out += [".SH SYNOPSIS", ".B heed", ".I COMMAND", "[flags] [args]", ".br",
            ".B heed \\-\\-version", ".SH DESCRIPTION", ".PP",
            "heed waits for services to be ready (\\fBheed wait\\fR), sweeps hosts "
            "with fping's interface (\\fBheed ping\\fR), and runs an agent that keeps "
            "checks with state and history behind an HTTP API that Consul's clients "
            "understand (\\fBheed agent\\fR). The other commands talk to a running agent.",
            ".SH COMMANDS"]
    for cmd, summary in summaries.items():
        out += [".TP", "\\fBheed %s\\fR" % esc(cmd),
                "%s; see \\fBheed\\-%s\\fR(%s)." % (esc(summary), esc(cmd), section_of(cmd))]
    out += [".TP", "\\fBheed help\\fR \\fICOMMAND\\fR",
            "the command's help, as \\fBheed \\fICOMMAND\\fB \\-\\-help\\fR prints it.",
            ".SH OPTIONS", ".TP", ".BR \\-h \", \" \\-\\-help",
            "the command list.", ".TP", ".B \\-\\-version", "print the version and exit.",
            ".SH FILES", ".TP", ".I /etc/heed/heed.yaml",
            "the agent's configuration, as the packaged systemd unit starts it; "
            "see \\fBheed.yaml\\fR(5).", ".TP", ".I /var/lib/heed",
            "the agent's data directory (its SQLite store)."]
    refs = [("heed-" + c, section_of(c)) for c in summaries] + [("heed.yaml", "5")]
    out += see_also(refs)
    return out


def md_table_row(line):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return cells


def page_config(path):
    with open(path, encoding="utf-8") as f:
        md = f.read().split("\n")
    out = header("heed.yaml", "5", "configuration file of the heed agent")
    out += [".SH SYNOPSIS", ".B /etc/heed/heed.yaml", ".br",
            ".B heed agent \\-c", ".I FILE"]
    out.append(".SH DESCRIPTION")
    i = 0
    if md and md[0].startswith("# "):
        i = 1  # the title is the NAME line
    para = []
    table_head = None

    def flush():
        if para:
            out.append(".PP")
            out.append(inline_md(" ".join(para)))
            para.clear()

    while i < len(md):
        line = md[i]
        if line.startswith("```"):
            flush()
            out += [".PP", ".nf", ".RS 2"]
            i += 1
            while i < len(md) and not md[i].startswith("```"):
                out.append(esc(md[i]))
                i += 1
            out += [".RE", ".fi"]
        elif line.startswith("## "):
            flush()
            out.append(".SH " + inline_md(line[3:].upper()))
        elif line.startswith("### ") or line.startswith("#### "):
            flush()
            out.append(".SS " + inline_md(line.lstrip("#").strip()))
        elif line.startswith("|"):
            flush()
            cells = md_table_row(line)
            if table_head is None:
                table_head = cells
            elif all(re.match(r"^:?-+:?$", c) for c in cells):
                pass
            else:
                # First cell is the tag; the others "head: value", empty ones left out.
                out += [".TP", inline_md(cells[0])]
                # the other cells: "type: id; default: x", then the meaning.
                facts = []
                text = []
                for head, cell in zip(table_head[1:], cells[1:]):
                    if not cell:
                        continue
                    if head in ("meaning", "written as"):
                        text.append(inline_md(cell))
                    else:
                        facts.append(inline_md(head) + ": " + inline_md(cell))
                if facts:
                    out.append("; ".join(facts))
                    if text:
                        out.append(".br")
                out += text
        elif re.match(r"^\s*[-*] ", line):
            flush()
            item = [re.sub(r"^\s*[-*] ", "", line)]
            while i + 1 < len(md) and md[i + 1].startswith("  ") and md[i + 1].strip():
                i += 1
                item.append(md[i].strip())
            out += [".IP \\(bu 2", inline_md(" ".join(item))]
        elif not line.strip():
            flush()
            table_head = None
        else:
            para.append(line.strip())
        i += 1
    flush()
    out += see_also([("heed", "1"), ("heed-agent", "8")])
    return out


def main(argv):
    if len(argv) == 6 and argv[1] == "command":
        lines = page_command(argv[2], argv[3], argv[4])
        dest = argv[5]
    elif len(argv) == 4 and argv[1] == "main":
        lines = page_main(argv[2])
        dest = argv[3]
    elif len(argv) == 4 and argv[1] == "config":
        lines = page_config(argv[2])
        dest = argv[3]
    else:
        sys.exit(__doc__)
    with open(dest, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv)
