# _rxm(d) receives files into folder d from sys.stdin.buffer. Each file
# arrives as a 2-byte little-endian length, the path and the first 2 bytes
# of the path's SHA-256, then blocks of up to 256 bytes, each after its
# 2-byte length, then a zero length. A zero path length ends the transfer.
# A path that fails its check was spoiled on the line: the file's blocks are
# read but not written, and the reply has dashes in place of the digest.
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
            p = bytes(v[:n])
            r.readinto(v[:2])
            if _h.sha256(p).digest()[:2] == bytes(v[:2]):
                p = d + '/' + p.decode()
                f = open(p, 'wb')
            while 1:
                r.readinto(v[:2])
                n = b[0] | b[1] << 8
                if not n or n > 256:
                    break
                r.readinto(v[:n])
                if f:
                    f.write(v[:n])
                print(_b.hexlify(_h.sha256(v[:n]).digest()[:2]).decode(), end='')
            if f:
                f.close()
                f = None
                gc.collect()
                print('.' + _hs(p), end='')
            else:
                print('.' + '-' * 64, end='')
            if n:
                break
    finally:
        micropython.kbd_intr(3)
        if f:
            f.close()
    gc.collect()
