def target():
    pass

def other():
    pass

def never():
    pass

def call_it(fn):
    fn()

def call_kw(*, callback):
    callback()

def pick():
    return other

call_it(target)
call_kw(callback=other)
alias = target
alias()
pick()()
unused = never
