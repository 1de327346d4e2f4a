#!/usr/bin/env python3
# The pulling main thread's CPU by part, from `perf record -e cpu-clock -g` of a pull-work.mjs pull
# (cpu-clock samples a thread only while it runs on a CPU: no preemption bias, unlike --cpu-prof;
# node --perf-basic-prof names the JIT code). docs/performance/pull.md, "Session 22: the 1 MB pull":
#   perf record -e cpu-clock -F 2500 -g -o pull.perf -- node --perf-basic-prof bench/pull-work.mjs pull ADDR SRC
#   perf script -i pull.perf -F tid,time,ip,sym,dso > pull.txt
#   bench/perf-split.py pull.txt 2500 [CATEGORY...]    # ms per block (1,000 blocks); leaves of CATEGORY
# The window is the main thread's first to last large decryption (the transfer); each sample goes to
# the first rule that matches its leaf frames (GC, compilation), else its whole stack, in order.
import sys, collections, re
path = sys.argv[1]; nblocks = 1000; hz = float(sys.argv[2]) if len(sys.argv) > 2 else 2500
samples = []  # (tid, time, frames)
cur = None
for line in open(path, errors='replace'):
    if not line.strip():
        if cur: samples.append(cur); cur = None
        continue
    if not line.startswith('\t') and not line.startswith(' ' * 8):
        m = re.match(r'\s*(\d+)\s+([\d.]+):', line)
        if m: cur = (int(m.group(1)), float(m.group(2)), [])
        continue
    if cur is not None:
        p = line.strip().split(' ', 1)
        cur[2].append(p[1] if len(p) > 1 else p[0])
if cur: samples.append(cur)
main = samples[0][0]
ms = [s for s in samples if s[0] == main]
big = [s[1] for s in ms if any('ChaCha20_8x' in f or 'ChaCha20_16x' in f for f in s[2])]  # AVX2 or AVX-512 builds of OpenSSL's ChaCha20
t0, t1 = min(big), max(big)
win = [s for s in ms if t0 <= s[1] <= t1]
# leaf-first categories
leafrules = [
 ('GC', ('Heap::', 'Scavenge', 'MarkCompact', 'Sweeper', 'heap::', 'MinorMC', 'ConcurrentMarking', 'IncrementalMarking')),
 ('V8 compile', ('compiler::', 'Maglev', 'maglev', 'Turbofan', 'Compile', 'Parser', 'Scanner', 'interpreter::')),
]
stackrules = [
 ('sha256', ('sha256_block', 'SHA256', 'Hash::HashUpdate', 'update node:internal/crypto/hash', 'digest node:internal/crypto/hash')),
 ('decrypt (node:crypto, its alloc+copy; or the native AEAD)', ('ChaCha20', 'poly1305', 'Poly1305', 'CipherBase', 'chaCha20Poly1305', 'leanDecrypt', 'asImpl', 'chacha', 'aead_', 'EVP_Cipher', 'lean-noise', 'noise-crypto')),
 ('file writes (writevSync)', ('writevSync', 'ext4_file_write', 'generic_perform_write')),
 ('window updates (yamux+noise+socket)', ('sendWindowUpdate',)),
 ('other sends (requests, mss)', ('sendFrame', 'processSendQueue', 'tcp_sendmsg', 'uv__write', 'sendData')),
 ('peer store', ('peer-store',)),
 ('stream open (dial, mss, newStream)', ('newStream', 'multistream', 'dialProtocol', 'openConnection', 'openStream')),
 ('yamux decode + stream dispatch', ('yamux/dist/src/muxer', 'yamux/dist/src/decode', 'yamux/dist/src/stream')),
 ('noise framing (length-prefix decode)', ('noise/dist', 'length-prefixed-decoder')),
 ('socket read (kernel + tcp)', ('tcp_recvmsg', 'sock_read_iter', 'uv__read', 'socket-to-conn', 'onStreamRead')),
 ('load pool messages', ('worker-pool', 'load-pool', 'postMessage', 'MessagePort', 'Deserializ', 'Serializ')),
 ('placement (journal, renames, index, sqlite)', ('import-batch', 'dist/storage/', 'better_sqlite3', 'sqlite3', 'dist/chain/')),
 ('headers + seal checks', ('header-feed', 'ecdsa', 'nistz256', 'EVP_DigestVerify')),
 ('range receive (byteStream reads, take, writes, frames)', ('receiveRangeBlock', 'take file', 'range-writes', 'fetchBlocks', 'readFrame', 'stream-utils', 'race-signal', 'dist/network/protocols/block', 'cpu-wait')),
 ('fs open/close/unlink (promises, callbacks)', ('openFileHandle', 'node:internal/fs/promises', 'FileHandle', 'do_sys_open', 'filp_close', '__x64_sys_close', 'unlink')),
 ('download scheduler, check-ahead, syncer', ('dist/sync/',)),
 ('event loop (epoll, timers, immediates)', ('uv__io_poll', 'epoll', 'uv__run_timers', 'listOnTimeout', 'processImmediate', 'uv__async')),
 ('promises / microtasks (other)', ('RunMicrotasks', 'PromiseReaction', 'processTicksAndRejections', 'AsyncFunctionAwait', 'Promise')),
]
cats = collections.Counter(); leaves = collections.defaultdict(collections.Counter)
for tid, t, fr in win:
    c = None
    leaf = ' '.join(fr[:3])
    for name, keys in leafrules:
        if any(k in leaf for k in keys): c = name; break
    if c is None:
        st = '\n'.join(fr)
        for name, keys in stackrules:
            if any(k in st for k in keys): c = name; break
    c = c or 'other'
    cats[c] += 1; leaves[c][fr[0][:110] if fr else '?'] += 1
n = len(win); per = 1000.0 / hz / nblocks  # ms per sample per block
print(f'{path}: main thread {n} samples in the window {t1-t0:.1f} s = {n*per:.2f} ms per block')
for k, v in cats.most_common(): print(f'  {v*per:6.3f} ms  {100*v/n:5.1f}%  {k}')
for c in sys.argv[3:]:
    print('--- leaves of', c)
    for k, v in leaves[c].most_common(20): print(f'  {v*per:6.3f}  {k}')
