def g(): pass
def f(): return {'a': g}
d = f()
d['a']()
