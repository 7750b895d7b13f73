class Session:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def work(self):
        pass

def f():
    pass

def g():
    pass

with Session() as session:
    session.work()
funcs = [f, g]
[h() for h in funcs]
