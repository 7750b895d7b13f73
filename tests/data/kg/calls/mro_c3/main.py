class A:
    def m(self):
        pass

class B(A):
    pass

class C(A):
    def m(self):
        pass

class D(B, C):
    pass

D().m()
