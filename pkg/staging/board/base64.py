# Base64 file writes, used where the binary receiver is missing or failed.
# _op opens a file, _wr writes one chunk, and _cl closes the file and prints
# its SHA-256.
def _op(p):
    global _f
    _oc()
    _f = open(p, 'wb')
def _wr(d):
    _f.write(_b.a2b_base64(d))
def _cl(p):
    global _f
    _f.close()
    _f = None
    gc.collect()
    print(_hs(p))
