def func(): pass
