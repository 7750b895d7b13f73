class Engine:
    def start(self):
        pass

def make():
    return Engine()

Engine().start()
make().start()
