def f1(): pass
def f2(): pass
def choose(x):
    if x:
        return f1
    return f2
choose(1)()
