class A:
    class B:
        def func(self): pass
A.B().func()
