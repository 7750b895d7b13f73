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


class E(B, C):
    def m(self):
        super().m()
