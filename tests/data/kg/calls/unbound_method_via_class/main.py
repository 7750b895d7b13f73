class A:
    def m(self): pass
m = A.m
m(A())
