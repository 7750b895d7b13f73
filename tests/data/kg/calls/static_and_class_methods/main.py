class Factory:
    def __init__(self):
        pass

    @staticmethod
    def build():
        return Factory.create()

    @classmethod
    def create(cls):
        return cls()

Factory.build()
Factory().create()
