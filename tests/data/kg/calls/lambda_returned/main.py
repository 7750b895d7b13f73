def g(): pass
def f():
    return lambda: g()
f()()
