#!/usr/bin/env python3
# Self instructions by function from a callgrind output file, JIT code named by V8's perf map
# (node --perf-basic-prof writes /tmp/perf-<pid>.map), divided by a request count (bench/api-cost.ts).
#   bench/callgrind-js.py callgrind.out /tmp/perf-PID.map REQUESTS [TOP]
import bisect, collections, sys

def self_costs(path):
    # Names may be compressed (callgrind's default): "(id) name" defines an id, "(id)" refers to it.
    names = {'ob': {}, 'fn': {}}
    def named(kind, v):
        v = v.strip()
        if not v.startswith('('): return v
        i = v.index(')'); key = v[:i + 1]; rest = v[i + 1:].strip()
        if rest: names[kind][key] = rest
        return names[kind].get(key, v)
    out = collections.Counter(); ob = fn = None; skip = False
    for line in open(path, errors='replace'):
        c = line[:1]
        if line.startswith('ob='): ob = named('ob', line[3:])
        elif line.startswith('fn='): fn = named('fn', line[3:])
        elif line.startswith('cob='): named('ob', line[4:])
        elif line.startswith('cfn='): named('fn', line[4:])
        elif line.startswith('calls='): skip = True
        elif c.isdigit() or c in '+-*':
            if skip: skip = False; continue
            p = line.split()
            if len(p) >= 2: out[(ob, fn)] += int(p[1])
    return out

def jit_names(path):
    spans = {}
    for line in open(path):
        a, s, name = line.rstrip('\n').split(' ', 2)
        spans[int(a, 16)] = (int(s, 16), name)  # a later entry at the same address wins (code moved or collected)
    starts = sorted(spans)
    def name(addr):
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < starts[i] + spans[starts[i]][0]: return spans[starts[i]][1]
        return '(JIT, unnamed)'
    return name

costs = self_costs(sys.argv[1]); name = jit_names(sys.argv[2]); n = float(sys.argv[3]); top = int(sys.argv[4]) if len(sys.argv) > 4 else 50
by = collections.Counter(); group = collections.Counter()

def kind(ob, label):
    if ob and 'better_sqlite3' in ob: return 'SQLite (better-sqlite3)'
    if label.startswith('JS:') or label.startswith('RegExp:') or label == '(JIT, unnamed)':
        src = label.split(' ', 1)[1] if ' ' in label else ''
        return 'JS, Petal (src/)' if '/src/' in src else 'JS, node: internals' if src.startswith('node:') else 'JS, other'
    if label.startswith('Builtins_') or label.startswith('Builtin:'): return 'V8 builtins'
    if '::compiler::' in label or 'Turbofan' in label or 'Maglev' in label: return 'V8 optimizing compiler'
    if any(k in label for k in ('Heap::', 'Scavenge', 'Marking', 'Sweeper', 'GC', 'Evacuat', 'RememberedSet', 'SlotSet', 'MemoryChunk', 'HeapObject::SizeFromMap', 'BodyDescriptor', 'IterateObjectCache', 'ActiveSystemPages', 'MigratedSlot', 'cppgc::', '__popcountdi2')): return 'V8 garbage collector'
    if 'v8::' in label: return 'V8 runtime and API'
    if 'node::' in label or label.startswith('uv_') or label.startswith('uv__') or 'llhttp' in label: return 'Node and libuv'
    return (ob or '?').split('/')[-1]

for (ob, fn), v in costs.items():
    label = name(int(fn.split("'")[0], 16)) if ob == '???' and fn.startswith('0x') else fn.split("'")[0]
    by[label] += v
    group[kind(ob, label)] += v
print(f'per request: {sum(costs.values()) / n:,.0f} instructions')
for k, v in group.most_common(): print(f'  {v / n:>10,.0f}  {k}')
for k, v in by.most_common(top): print(f'{v / n:>10,.0f}  {k[:150]}')
