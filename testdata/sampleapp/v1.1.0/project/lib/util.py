# Helpers of the sample app.
try:
    import json
except ImportError:
    import ujson as json

DEFAULTS = {"ticks": 3, "interval_s": 0.1}


def load_config(path):
    settings = dict(DEFAULTS)
    try:
        with open(path) as f:
            settings.update(json.load(f))
    except OSError:
        pass
    return settings


def tick_message(n):
    return "tick %d" % n
