def func(): pass
class A:
    handler = func
A.handler()
