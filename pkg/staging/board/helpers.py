# Helpers that staging calls on the board. They use _st and _rm from
# otaflash_recover.py, and 256-byte buffers, so large files fit a small heap.
# Every file is closed however a helper ends, so no write stays uncommitted.
import gc, ubinascii as _b, uhashlib as _h
# _f is the file that base64 writes go to. _oc closes it when a failed run
# left it open, before the next run reads the board: littlefs commits a
# file's writes only when the file is closed.
_f = globals().get('_f')
def _oc():
    global _f
    f = _f
    _f = None
    if f:
        try:
            f.close()
        except Exception:
            pass
def _mk(p):
    if not _st(p):
        os.mkdir(p)
def _hd(p):
    h = _h.sha256()
    b = bytearray(256)
    v = memoryview(b)
    f = open(p, 'rb')
    try:
        while 1:
            n = f.readinto(b)
            if not n:
                break
            h.update(v[:n])
    finally:
        f.close()
    return h.digest()
def _hs(p):
    return _b.hexlify(_hd(p)).decode()
def _cp(a, z):
    b = bytearray(256)
    v = memoryview(b)
    r = open(a, 'rb')
    try:
        w = open(z, 'wb')
        try:
            while 1:
                n = r.readinto(b)
                if not n:
                    break
                w.write(v[:n])
        finally:
            w.close()
    finally:
        r.close()
def _rv(p):
    try:
        f = open(p)
        v = f.read(80).strip()
        f.close()
        return v
    except OSError:
        return None
