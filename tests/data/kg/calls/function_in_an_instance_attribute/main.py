def func(): pass
class A:
    def __init__(self): self.f = func
    def m(self): self.f()
A().m()
