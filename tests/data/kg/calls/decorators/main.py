def logged(fn):
    def wrapper(*args):
        return fn(*args)
    return wrapper

def plain(fn):
    return fn

def repeat(times):
    def deco(fn):
        return fn
    return deco

@logged
def work():
    pass

@plain
def rest():
    pass

@repeat(2)
def again():
    pass

work()
rest()
again()
