# _state prints the board's state as JSON for Board.Inspect, then 8 hex
# digits of the JSON's SHA-256, so a reply changed on the line is detected.
# A run reads the state first, and never while a file is open, so _state
# closes a file that an earlier run left open (_oc).
# sys.implementation exists from MicroPython v1.10 on; os.statvfs returns
# (f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, ...). "bin" reports
# what the binary receiver needs: sys.stdin.buffer.readinto and
# micropython.kbd_intr, which the ESP8266 port has from v1.13 on.
def _state(d):
    import sys, json, micropython
    _oc()
    s = os.statvfs('/')
    gc.collect()
    j = json.dumps({'fw': '.'.join([str(x) for x in sys.implementation.version[:3]]), 'plat': sys.platform,
        'app': _st(d) != 0, 'cur': _rv(d + '/.version'), 'next': _st('/next') != 0, 'nv': _rv('/next/.version'),
        'np': _rv('/next/.version_on_reboot'), 'prev': _st('/prev') != 0, 'pv': _rv('/prev/.version'),
        'bin': hasattr(sys.stdin, 'buffer') and hasattr(sys.stdin.buffer, 'readinto') and hasattr(micropython, 'kbd_intr'),
        'bs': s[0], 'free': s[0] * s[4], 'total': s[0] * s[2], 'ram': gc.mem_free()})
    print(j)
    print(_b.hexlify(_h.sha256(j.encode()).digest()[:4]).decode())
