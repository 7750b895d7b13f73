class A:
    def func(self): pass
class B:
    def func(self): pass
class C(A, B):
    def other(self):
        self.func()
C().other()
