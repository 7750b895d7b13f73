def func(): pass
class A:
    def __iter__(self):
        yield func
for f in A():
    f()
