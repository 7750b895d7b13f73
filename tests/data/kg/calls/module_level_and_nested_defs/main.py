def helper():
    pass

class Box:
    pass

def outer():
    def inner():
        helper()
    inner()

helper()
Box()
