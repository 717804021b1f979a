# Binary receiver. _rxm(d) receives files into folder d. Each file is sent
# as a 2-byte little-endian length and its path, then blocks of up to 256
# bytes, each after its 2-byte length, then a zero length; a zero path
# length ends. The board answers each block with 4 hex digits of its
# SHA-256, so the host can keep two blocks in flight within the 256-byte
# UART buffer and catch corruption, and each file with "." and its whole
# SHA-256. Ctrl-C is off while it reads, and back on however it ends.
import sys, micropython
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
