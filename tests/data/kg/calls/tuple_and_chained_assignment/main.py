def a():
    pass

def b():
    pass

def c():
    pass

x, y = a, b
y()
p = q = c
q()
