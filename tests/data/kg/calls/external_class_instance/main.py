from ext import Cls
x = Cls()
x.method()
