class A:
    def m(self): pass
def call(f): f()
call(A().m)
