def a():
    pass


def b():
    pass


def c():
    pass


table = {"a": a, "b": b}
for name, handler in table.items():
    handler()
for handler in list(table.values()):
    handler()
ordered = sorted([c])
ordered[0]()
