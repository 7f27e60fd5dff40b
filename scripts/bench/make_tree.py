#!/usr/bin/env python3
"""Writes a deterministic tree of N files (default 2,000) in 40 directories, 1-32 KiB each,
for the release benchmarks. Usage: make_tree.py DIR [N]"""
import os
import random
import sys

def main():
    root = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    rng = random.Random(42)
    for i in range(count):
        directory = os.path.join(root, f"dir{i % 40:02d}")
        os.makedirs(directory, exist_ok=True)
        size = rng.randint(1024, 32 * 1024)
        with open(os.path.join(directory, f"file{i:05d}.txt"), "wb") as f:
            f.write(rng.randbytes(size))

if __name__ == "__main__":
    main()
