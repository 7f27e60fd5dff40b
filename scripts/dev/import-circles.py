#!/usr/bin/env python3
"""Import circles between files of crates/hoist/src (issue 12), ignoring a module's edges with its own
children (a parent and its children may use each other)."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '../../crates/hoist/src')
mods = {}
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f); rel = os.path.relpath(p, root)[:-3]
        parts = rel.split('/')
        if parts[-1] in ('mod', 'lib', 'main'): parts = parts[:-1]
        if parts and ('tests' in parts or parts[-1].endswith('tests')): continue
        mods[tuple(parts)] = p
def resolve(path):
    path = tuple(path)
    while path and path not in mods: path = path[:-1]
    return path or None
edges = {m: set() for m in mods}
for m, p in mods.items():
    text = open(p).read()
    text = re.sub(r'#\[cfg\(test\)\]\s*mod tests \{.*', '', text, flags=re.S)
    for use in re.findall(r'crate::((?:\w+::)*\w+)', text):
        parts = use.split('::')
        t = resolve(parts)
        if t and t != m: edges[m].add(t)
    for grp in re.findall(r'use crate::((?:\w+::)*)\{([^}]*)\}', text):
        base = grp[0].strip(':').split('::') if grp[0] else []
        for item in grp[1].split(','):
            item = item.strip().split(' as ')[0]
            if not item or item == 'self': continue
            t = resolve(base + item.split('::'))
            if t and t != m: edges[m].add(t)
def related(a, b):
    return a[:len(b)] == b or b[:len(a)] == a
index = {}; low = {}; stack = []; on = set(); sccs = []; counter = [0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if related(v, w): continue
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in list(edges):
    if v not in index: strong(v)
for comp in sorted(sccs, key=len, reverse=True):
    print(len(comp), 'files:', ' '.join('/'.join(c) for c in sorted(comp)))
print('circles:', len(sccs), 'files in them:', sum(len(c) for c in sccs))
