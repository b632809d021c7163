#!/usr/bin/env python3
"""pcap_inject/pcap_sendpacket through libncap-pcap: two handles on the two ends of one
model wire in this process; every frame one sends, the other receives, byte for byte.
Usage: inject.py LIBNCAP_PCAP_SO"""
import ctypes as C
import select
import sys
import time

lib = C.CDLL(sys.argv[1])
lib.pcap_create.restype = C.c_void_p
lib.pcap_create.argtypes = [C.c_char_p, C.c_char_p]
for f in ('pcap_activate', 'pcap_close', 'pcap_set_timeout', 'pcap_inject', 'pcap_sendpacket', 'pcap_next_ex',
          'pcap_geterr', 'pcap_stats'):
    getattr(lib, f).argtypes = [C.c_void_p] + {'pcap_set_timeout': [C.c_int], 'pcap_inject': [C.c_char_p, C.c_size_t],
                                               'pcap_sendpacket': [C.c_char_p, C.c_int],
                                               'pcap_next_ex': [C.c_void_p, C.c_void_p],
                                               'pcap_stats': [C.c_void_p]}.get(f, [])
lib.pcap_geterr.restype = C.c_char_p


class Hdr(C.Structure):
    _fields_ = [('sec', C.c_long), ('usec', C.c_long), ('caplen', C.c_uint32), ('len', C.c_uint32)]


def open_(name):
    err = C.create_string_buffer(256)
    h = lib.pcap_create(name.encode(), err)
    lib.pcap_set_timeout(h, 200)
    if lib.pcap_activate(h) < 0:
        sys.exit(f'activate {name}: {lib.pcap_geterr(h).decode()}')
    return h


tx = open_('ncap:model:82599?wire=inject')
rx = open_('ncap:model:82599?wire=inject')
frames = [bytes([0xff] * 6 + [2, 0, 0, 0, 0, 1, 0x88, 0xb5]) + bytes((i + k) & 0xff for k in range(46 + i % 1400))
          for i in range(1000)]
full = 0
for i, f in enumerate(frames):
    for attempt in range(1000):  # a full TX ring refuses (counted below); senders retry
        r = lib.pcap_inject(tx, f, len(f)) if i % 2 else (len(f) if lib.pcap_sendpacket(tx, f, len(f)) == 0 else -1)
        if r == len(f):
            break
        full += 1
        time.sleep(0.001)
    if r != len(f):
        sys.exit(f'frame {i}: inject returned {r}: {lib.pcap_geterr(tx).decode()}')
got = []
hp, dp = C.POINTER(Hdr)(), C.POINTER(C.c_ubyte)()
misses = 0
while len(got) < len(frames) and misses < 10:
    r = lib.pcap_next_ex(rx, C.byref(hp), C.byref(dp))
    if r == 1:
        got.append(bytes(dp[:hp.contents.caplen]))
    elif r == 0:
        misses += 1
    else:
        sys.exit(f'pcap_next_ex: {r}')
bad = next((i for i, (a, b) in enumerate(zip(got, frames)) if a != b), None)
if len(got) != len(frames) or bad is not None:
    sys.exit(f'received {len(got)} of {len(frames)} frames, first difference at {bad}')
print(f'ok: {len(frames)} frames sent with pcap_inject/pcap_sendpacket arrived byte for byte '
      f'({full} refusals of a full TX ring retried)')

# Non-blocking mode and the selectable fd: nothing waits -> pcap_next_ex returns 0 at once
# and the fd is not readable; one frame sent -> the fd turns readable and the frame comes.
for f in ('pcap_setnonblock', 'pcap_get_selectable_fd'):
    getattr(lib, f).argtypes = [C.c_void_p] + ([C.c_int, C.c_char_p] if f == 'pcap_setnonblock' else [])
err = C.create_string_buffer(256)
if lib.pcap_setnonblock(rx, 1, err) != 0:
    sys.exit('pcap_setnonblock failed')
fd = lib.pcap_get_selectable_fd(rx)
t0 = time.monotonic()
r = lib.pcap_next_ex(rx, C.byref(hp), C.byref(dp))
if r != 0 or time.monotonic() - t0 > 0.05:
    sys.exit(f'non-blocking pcap_next_ex on an empty handle returned {r} after {time.monotonic() - t0:.3f} s')
if select.select([fd], [], [], 0)[0]:
    sys.exit('the selectable fd is readable while no packet waits')
lib.pcap_inject(tx, frames[7], len(frames[7]))
if not select.select([fd], [], [], 2)[0]:
    sys.exit('the selectable fd did not turn readable when a packet arrived')
r = lib.pcap_next_ex(rx, C.byref(hp), C.byref(dp))
if r != 1 or bytes(dp[:hp.contents.caplen]) != frames[7]:
    sys.exit(f'after select: pcap_next_ex returned {r}')
print('ok: non-blocking pcap_next_ex returns 0 at once; the fd is readable exactly when a packet waits')
lib.pcap_close(rx)
lib.pcap_close(tx)
