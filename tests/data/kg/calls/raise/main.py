class Oops(Exception):
    pass

class Bad(Exception):
    def __init__(self):
        super().__init__("bad")

def f():
    raise Oops

def g():
    raise Bad()

def h():
    try:
        f()
    except Oops as error:
        raise error

def i():
    raise ValueError
