import gc, ubinascii as _b, uhashlib as _h
_f = globals().get('_f')
def _mk(p):
    if not _st(p):
        os.mkdir(p)
def _hs(p):
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
    return _b.hexlify(h.digest()).decode()
def _op(p):
    global _f
    _f = open(p, 'wb')
def _wr(d):
    _f.write(_b.a2b_base64(d))
def _cl(p):
    global _f
    _f.close()
    _f = None
    gc.collect()
    print(_hs(p))
def _ls(p, r=''):
    for n in os.listdir(p + r):
        q = r + '/' + n
        if _st(p + q) & 0x4000:
            print('d\t' + q[1:])
            _ls(p, q)
        else:
            print('f\t' + q[1:] + '\t' + _hs(p + q)[:16])
    gc.collect()
def _rv(p):
    try:
        f = open(p)
        v = f.read(80).strip()
        f.close()
        return v
    except OSError:
        return None
