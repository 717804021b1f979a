# Sample app for otaflash tests: prints its version, then ticks a few times.
import sys
import time

# otaflash installs the app in /project; the board's own /main.py starts it.
APP = "/project"
if APP + "/lib" not in sys.path:
    sys.path.insert(0, APP + "/lib")

import util

VERSION = "1.0.0"

print("sampleapp", VERSION)
settings = util.load_config(APP + "/config.json")
for n in range(settings["ticks"]):
    print(util.tick_message(n))
    # time.sleep returns to the runtime, so Ctrl-C can interrupt the loop.
    time.sleep(settings["interval_s"])
print("sampleapp done")
