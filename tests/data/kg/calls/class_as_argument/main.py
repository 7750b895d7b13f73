class A:
    def m(self): pass
def make(c): return c()
make(A).m()
