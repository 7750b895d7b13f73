def a():
    pass

def b():
    pass

def c():
    pass

def d():
    pass

handlers = {"a": a, "d": d}
handlers["a"]()
items = [b]
items.append(c)
for f in items:
    f()
table = {}
table["k"] = a
table.get("k")()
pair = (d, b)
pair[1]()
