# The program `make run` shows on depot: a small word-frequency and JSON
# job in Python, with PYTHONMALLOC=malloc so that every Python object is a
# malloc/free through depot (Python's own small-object arenas bypassed).
import json, os, random, sys

if os.environ.get("PYTHONMALLOC") != "malloc":
    os.environ["PYTHONMALLOC"] = "malloc"
    os.execv(sys.executable, [sys.executable] + sys.argv)

random.seed(42)
words = ["".join(random.choice("abcdefghij") for _ in range(random.randint(2, 9)))
         for _ in range(200000)]
freq = {}
for w in words:
    freq[w] = freq.get(w, 0) + 1
doc = json.dumps({"count": len(freq), "top": sorted(freq.items(), key=lambda kv: -kv[1])[:5]})
big = bytearray(4 << 20)          # 4 MiB: its own mmap, above the threshold
del words, big
again = json.loads(doc)
print("distinct words:", again["count"])
print("most frequent:", ", ".join(f"{w}={n}" for w, n in again["top"]))
