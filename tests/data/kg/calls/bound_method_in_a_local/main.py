class A:
    def func(self): pass
    def m(self):
        f = self.func
        f()
A().m()
