#!/usr/bin/env python3
"""gen_git.py COMMITS [FILES] - write a git fast-import stream to stdout:
COMMITS commits on refs/heads/main over FILES text files (default 200),
each commit editing a few files (lines changed, added, removed), with
fixed authors and dates, so the resulting hashes are the same every time."""
import sys

commits = int(sys.argv[1])
nfiles = int(sys.argv[2]) if len(sys.argv) > 2 else 200
state = 12345


def rnd(n):
    global state
    state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    return (state >> 33) % n


words = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
         "omicron pi rho sigma tau upsilon phi chi psi omega malloc free arena chunk "
         "bin cache thread page heap mmap brk trim").split()
files = {}
out = sys.stdout.buffer


def line():
    return " ".join(words[rnd(len(words))] for _ in range(3 + rnd(9)))


mark = 0
for c in range(commits):
    touched = set()
    for _ in range(1 + rnd(4)):
        i = rnd(nfiles)
        f = "dir%02d/file%03d.txt" % (i % 17, i)
        lines = files.get(f, [])
        op = rnd(4)
        if len(lines) > 120:  # keep files small: cut a run of lines
            i = rnd(len(lines) - 40)
            del lines[i:i + 40]
        elif not lines or op == 0:
            lines = lines + [line() for _ in range(5 + rnd(40))]
        elif op == 1 and len(lines) > 3:
            i = rnd(len(lines))
            del lines[i:i + 1 + rnd(3)]
        else:
            for _ in range(1 + rnd(5)):
                lines[rnd(len(lines))] = line()
        files[f] = lines
        touched.add(f)
    msg = ("commit %d: %s\n" % (c, line())).encode()
    t = 1600000000 + c * 97
    cmd = [b"commit refs/heads/main\n",
           b"author Depot World <world@example.com> %d +0000\n" % t,
           b"committer Depot World <world@example.com> %d +0000\n" % t,
           b"data %d\n" % len(msg), msg]
    for f in sorted(touched):
        data = ("\n".join(files[f]) + "\n").encode()
        cmd.append(b"M 100644 inline %s\ndata %d\n" % (f.encode(), len(data)))
        cmd.append(data)
    cmd.append(b"\n")
    out.write(b"".join(cmd))
