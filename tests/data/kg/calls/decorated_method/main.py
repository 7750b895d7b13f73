def dec(f):
    def wrap(self):
        return f(self)
    return wrap
class A:
    @dec
    def m(self): self.n()
    def n(self): pass
A().m()
