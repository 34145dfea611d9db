#!/usr/bin/python3
"""The README's list of hooked functions, made from shims/manifest/manifest.def so the two
cannot disagree: one line per group of the manifest (its `// comment` heading), each
function named in full.

    scripts/readme_hooks.py          rewrites the list between the README's markers
    scripts/readme_hooks.py --check  exits 1 (saying what differs) if the README is stale;
                                     CTest runs this (readme_hooks_current)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(ROOT, "shims", "manifest", "manifest.def")
README = os.path.join(ROOT, "README.md")
BEGIN = "<!-- hooked functions: made by scripts/readme_hooks.py from shims/manifest/manifest.def -->"
END = "<!-- end of hooked functions -->"


def short(heading):
    """A heading's first clause: the manifest's comments go on to say where and why."""
    return re.split(r" \(|;|: |\. ", heading, maxsplit=1)[0].strip() if heading else "other"


def groups():
    """(heading, [names]) in manifest order; the heading is the comment block right above
    a run of WEFT_SHIM lines (a blank line ends a block)."""
    heading, names, out = None, [], []
    for line in open(MANIFEST):
        line = line.strip()
        shim = re.match(r"WEFT_SHIM\(\s*\w+\s*,[^,]+,\s*(\w+)\s*,", line)
        if shim:
            names.append(shim.group(1))
            continue
        if names:  # a run ended
            out.append((short(heading), names))
            heading, names = None, []
        if line.startswith("//"):
            text = line[2:].strip()
            heading = text if heading is None else heading + " " + text
        elif not line:
            heading = None
    if names:
        out.append((short(heading), names))
    return out


def block():
    lines = [BEGIN]
    for heading, names in groups():
        lines.append("- " + heading + ": " + ", ".join("`%s`" % n for n in names))
    lines.append(END)
    return "\n".join(lines)


def main():
    text = open(README).read()
    if BEGIN not in text or END not in text:
        sys.exit("readme_hooks: the README has no markers %r ... %r" % (BEGIN, END))
    start = text.index(BEGIN)
    stop = text.index(END) + len(END)
    fresh = text[:start] + block() + text[stop:]
    if "--check" in sys.argv:
        if fresh != text:
            print("readme_hooks: README.md's list of hooked functions differs from the manifest; "
                  "run scripts/readme_hooks.py", file=sys.stderr)
            print(block(), file=sys.stderr)
            sys.exit(1)
        return
    open(README, "w").write(fresh)


if __name__ == "__main__":
    main()
