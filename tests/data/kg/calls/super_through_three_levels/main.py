class A:
    def func(self): pass
class B(A):
    def func(self):
        super().func()
class C(B):
    def func(self):
        super().func()
C().func()
