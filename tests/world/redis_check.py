#!/usr/bin/env python3
"""redis_check.py PORT - write a known set of keys to redis on 127.0.0.1
(strings of many sizes, lists, hashes, sets), read them all back, delete a
part, check DBSIZE; print a summary that is the same on every allocator.
Exit 1 on any mismatch.  Plain sockets and RESP: no client library."""
import socket
import sys

port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=60)
f = s.makefile("rb")


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def reply():
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b":"):
        return int(rest) if t == b":" else rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data
    if t == b"*":
        return [reply() for _ in range(int(rest))]
    raise RuntimeError("bad reply %r" % line)


def pipeline(cmds):
    s.sendall(b"".join(enc(*c) for c in cmds))
    return [reply() for _ in cmds]


def value(i):
    n = (i * 7919) % 9000 + (i % 3) * 20 + 1  # 1 .. ~9 KB
    unit = ("v%d:" % i).encode()
    return (unit * (n // len(unit) + 1))[:n]


N = 20000
pipeline([("FLUSHALL",)])
bad = 0
for lo in range(0, N, 1000):
    pipeline([("SET", "k:%d" % i, value(i)) for i in range(lo, lo + 1000)])
pipeline([("RPUSH", "list:%d" % (i % 50), "item-%d" % i) for i in range(10000)])
pipeline([("HSET", "hash:%d" % (i % 100), "f%d" % i, value(i)[:100]) for i in range(10000)])
pipeline([("SADD", "set:%d" % (i % 20), i) for i in range(10000)])
for lo in range(0, N, 1000):
    got = pipeline([("GET", "k:%d" % i) for i in range(lo, lo + 1000)])
    bad += sum(1 for i, g in zip(range(lo, lo + 1000), got) if g != value(i))
lens = pipeline([("LLEN", "list:%d" % j) for j in range(50)])
bad += sum(1 for x in lens if x != 200)
hl = pipeline([("HLEN", "hash:%d" % j) for j in range(100)])
bad += sum(1 for x in hl if x != 100)
sc = pipeline([("SCARD", "set:%d" % j) for j in range(20)])
bad += sum(1 for x in sc if x != 500)
first = pipeline([("LRANGE", "list:7", 0, 2)])[0]
size1 = pipeline([("DBSIZE",)])[0]
pipeline([("DEL", "k:%d" % i) for i in range(0, N, 2)])
size2 = pipeline([("DBSIZE",)])[0]
gone = pipeline([("EXISTS", "k:%d" % i) for i in range(0, 200, 2)])
kept = pipeline([("GET", "k:%d" % i) for i in range(1, 2001, 2)])
bad += sum(1 for g in gone if g != 0)
bad += sum(1 for i, g in zip(range(1, 2001, 2), kept) if g != value(i))
print("strings=%d lists=50x200 hashes=100x100 sets=20x500 dbsize=%s after-del=%s first=%s mismatches=%d"
      % (N, size1, size2, [x.decode() for x in first], bad))
sys.exit(1 if bad or size1 != N + 170 or size2 != N // 2 + 170 else 0)
