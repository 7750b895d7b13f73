import pkg
pkg.func()
