def show(x):
    print(len(x))

double = lambda v: show(v)
double([1])
ordered = sorted([3, 1], key=lambda n: -n)
