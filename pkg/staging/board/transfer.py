# Binary receiver and on-board copy. _rx reads blocks of up to 256 bytes from
# sys.stdin.buffer, each after a 2-byte little-endian length; length 0 ends.
# It answers each block with 4 hex digits of its SHA-256, so the host can
# keep two blocks in flight within the 256-byte UART buffer and catch
# corruption. Ctrl-C is off while it reads, and back on however it ends.
# _rxm receives several files into folder d: for each, a length and its
# path, then blocks as for _rx, a zero length, and the board answers "."
# and the file's SHA-256; a zero path length ends.
# _cpl copies files from folder s to folder d (names, or (source, target)
# pairs for moved files) and prints the index of each copy whose SHA-256
# differs from the bytes it read.
import sys, micropython
def _rx(p):
    r = sys.stdin.buffer
    b = bytearray(256)
    v = memoryview(b)
    f = open(p, 'wb')
    micropython.kbd_intr(-1)
    try:
        print('r', end='')
        while 1:
            r.readinto(v[:2])
            n = b[0] | b[1] << 8
            if not n or n > 256:
                break
            r.readinto(v[:n])
            f.write(v[:n])
            print(_b.hexlify(_h.sha256(v[:n]).digest()[:2]).decode(), end='')
    finally:
        micropython.kbd_intr(3)
        f.close()
    gc.collect()
    print('.' + _hs(p))
def _rxm(d):
    r = sys.stdin.buffer
    b = bytearray(256)
    v = memoryview(b)
    f = None
    micropython.kbd_intr(-1)
    try:
        print('r', end='')
        while 1:
            r.readinto(v[:2])
            n = b[0] | b[1] << 8
            if not n or n > 256:
                break
            r.readinto(v[:n])
            p = d + '/' + bytes(v[:n]).decode()
            f = open(p, 'wb')
            while 1:
                r.readinto(v[:2])
                n = b[0] | b[1] << 8
                if not n or n > 256:
                    break
                r.readinto(v[:n])
                f.write(v[:n])
                print(_b.hexlify(_h.sha256(v[:n]).digest()[:2]).decode(), end='')
            f.close()
            f = None
            gc.collect()
            print('.' + _hs(p), end='')
            if n:
                break
    finally:
        micropython.kbd_intr(3)
        if f:
            f.close()
    gc.collect()
def _cpl(s, d, m):
    b = bytearray(256)
    v = memoryview(b)
    for i in range(len(m)):
        e = m[i]
        a, z = (e, e) if type(e) is str else e
        h = _h.sha256()
        r = open(s + '/' + a, 'rb')
        w = open(d + '/' + z, 'wb')
        while 1:
            n = r.readinto(b)
            if not n:
                break
            h.update(v[:n])
            w.write(v[:n])
        r.close()
        w.close()
        if _hs(d + '/' + z) != _b.hexlify(h.digest()).decode():
            print(i)
    gc.collect()
