# Sample app for otaflash tests: prints its version, then ticks a few times.
import sys
import time

if "/lib" not in sys.path:
    sys.path.append("/lib")

import greeting
import util

VERSION = "1.2.0-rc.1"

print(greeting.hello(VERSION))
settings = util.load_config("config.json")
for n in range(settings["ticks"]):
    print(util.tick_message(n))
    # time.sleep returns to the runtime, so Ctrl-C can interrupt the loop.
    time.sleep(settings["interval_s"])
print("sampleapp done")
