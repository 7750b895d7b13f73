def first():
    pass

def second():
    pass

def handlers():
    yield first
    yield second

def numbers():
    yield 1

for h in handlers():
    h()
for n in numbers():
    print(n)
