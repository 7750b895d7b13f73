def dec(f):
    def inner():
        f()
    return inner
def outer():
    @dec
    def nested(): pass
    nested()
outer()
