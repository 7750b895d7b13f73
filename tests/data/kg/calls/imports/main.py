import pkg
from pkg.mod import Tool as T
from pkg import sub

pkg.helper()
T().use()
sub.run()
