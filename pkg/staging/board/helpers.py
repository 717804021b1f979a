# Helpers that staging calls on the board. They use _st and _rm from
# otaflash_recover.py, and 256-byte buffers, so large files fit a small heap.
import gc, ubinascii as _b, uhashlib as _h
def _mk(p):
    if not _st(p):
        os.mkdir(p)
def _hd(p):
    h = _h.sha256()
    b = bytearray(256)
    v = memoryview(b)
    f = open(p, 'rb')
    while 1:
        n = f.readinto(b)
        if not n:
            break
        h.update(v[:n])
    f.close()
    return h.digest()
def _hs(p):
    return _b.hexlify(_hd(p)).decode()
def _cp(a, z):
    b = bytearray(256)
    v = memoryview(b)
    r = open(a, 'rb')
    w = open(z, 'wb')
    while 1:
        n = r.readinto(b)
        if not n:
            break
        w.write(v[:n])
    r.close()
    w.close()
def _rv(p):
    try:
        f = open(p)
        v = f.read(80).strip()
        f.close()
        return v
    except OSError:
        return None
