def g(): pass
def f(a): return a
def h(b=None): return b
h(b=f(a=g))()
