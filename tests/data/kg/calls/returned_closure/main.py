def outer():
    def inner():
        pass
    return inner

outer()()
