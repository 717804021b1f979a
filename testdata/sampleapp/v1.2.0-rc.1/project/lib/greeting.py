# Banner of the sample app, added in 1.1.0.


def hello(version):
    return "sampleapp %s" % version
