#!/usr/bin/env python3
# The core's modules must form a DAG: a leaf (time, error, a channel codec) never reaches back
# into the state machine or the API. scripts/house-check.sh runs this over functions/core/src and
# fails on a cycle; `-v` prints the graph.
#
# Module graph: one node per file (foo.rs / foo/mod.rs = `foo`,
# foo/bar.rs = `foo::bar`); an edge for every `crate::path` or `super::` reference (use lines
# and inline paths, comments and doc links excluded), resolved to the longest module prefix.
import os, re, sys
args = [a for a in sys.argv[1:] if a != '-v']
verbose = '-v' in sys.argv[1:]
root = args[0] if args else 'functions/core/src'
mods = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        rel = os.path.relpath(os.path.join(d, f), root)[:-3].split(os.sep)
        if rel[-1] == 'mod': rel = rel[:-1]
        name = '::'.join(rel) if rel != ['lib'] else 'crate'
        mods[name] = os.path.join(d, f)
def resolve(path):
    parts = path.split('::')
    for k in range(len(parts), 0, -1):
        n = '::'.join(parts[:k])
        if n in mods: return n
    return 'crate'
edges = {m: set() for m in mods}
for m, p in mods.items():
    txt = open(p).read()
    txt = re.sub(r'//[^\n]*', '', txt)
    parent = m.rsplit('::', 1)[0] if '::' in m else 'crate'
    # crate::a::b and use crate::{a, b::c}
    for g in re.finditer(r'crate::\{([^}]*)\}', txt):
        for item in re.split(r'[,\s]+', g.group(1)):
            if item: edges[m].add(resolve(item.split('::{')[0]))
    for g in re.finditer(r'crate::((?:\w+::)*\w+)', txt):
        edges[m].add(resolve(g.group(1)))
    for g in re.finditer(r'\bsuper::((?:\w+::)*\w+|\*|\{)', txt):
        sub = g.group(1)
        edges[m].add(parent if sub in ('*', '{') else resolve((parent + '::' + sub) if parent != 'crate' else sub))
    edges[m].discard(m)
    # a parent declaring its children (`mod x;`) is containment, not use
edges['crate'] = set()  # lib.rs only declares and re-exports
if verbose:
    for m in sorted(edges): print(f'{m:22} -> {", ".join(sorted(edges[m])) or "-"}')
# cycles: Tarjan SCC
idx, low, st, on, out, c = {}, {}, [], set(), [], [0]
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: out.append(comp)
sys.setrecursionlimit(10000)
for v in edges:
    if v not in idx: sc(v)
if out:
    print('import cycles in', root + ':', '; '.join(' <-> '.join(sorted(c)) for c in out))
    sys.exit(1)
print('no import cycles among', len(mods), 'modules of', root)
