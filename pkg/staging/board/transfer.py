# _rxm(d) receives files into folder d from sys.stdin.buffer. Each file
# arrives as a 2-byte little-endian length and the path, then blocks of up
# to 256 bytes, each after its 2-byte length, then a zero length. A zero
# path length ends the transfer.
# The board prints 4 hex digits of each block's SHA-256 and, after each
# file, "." and the file's whole SHA-256. The host paces its sends by these
# replies to stay within the 256-byte UART buffer.
# Ctrl-C is off while _rxm reads and is turned back on however it ends.
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
