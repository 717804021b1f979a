# _ls lists folder p, one line per entry: "d", a tab and the path for a
# folder, or "f", a tab, the path, a tab and 16 hex digits of the SHA-256 for
# a file. Staging lists a partial /next with it to resume.
def _ls(p, r=''):
    for n in os.listdir(p + r):
        q = r + '/' + n
        if _st(p + q) & 0x4000:
            print('d\t' + q[1:])
            _ls(p, q)
        else:
            print('f\t' + q[1:] + '\t' + _hs(p + q)[:16])
    gc.collect()
