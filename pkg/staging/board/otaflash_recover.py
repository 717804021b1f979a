# otaflash boot-time recovery: finishes or rolls back a swap that a power
# cut interrupted. MicroPython v1.13+, no f-strings, no allocation beyond a
# few small strings.
import os
def _st(p):
    try:
        return os.stat(p)[0]
    except OSError:
        return 0
def _rm(p):
    m = _st(p)
    if m & 0x4000:
        if _st(p + '/.version'):
            os.remove(p + '/.version')
        for n in os.listdir(p):
            _rm(p + '/' + n)
        os.rmdir(p)
    elif m:
        os.remove(p)
def run(d):
    # A folder that is the working directory cannot be renamed everywhere.
    os.chdir('/')
    if _st('/next/.version'):
        # An app folder without .version cannot be reverted to, because
        # revert-debug moved its .version or a removal stopped part way.
        # It is removed, and /prev keeps its version.
        if _st(d + '/.version'):
            _rm('/prev')
            os.rename(d, '/prev')
        elif _st(d):
            _rm(d)
        os.rename('/next', d)
    elif not _st(d) and _st('/prev/.version'):
        os.rename('/prev', d)
    if _st('/prev') and not _st('/prev/.version'):
        _rm('/prev')
