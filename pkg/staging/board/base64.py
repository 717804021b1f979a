# Base64 file writes, for boards or lines where the binary receiver fails:
# _op opens a file, each _wr writes one chunk, _cl closes it and prints its
# SHA-256.
_f = globals().get('_f')
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
