def helper():
    pass

class Tool:
    def use(self):
        pass
