def g(): pass
def f(x): x()
f(lambda: g())
