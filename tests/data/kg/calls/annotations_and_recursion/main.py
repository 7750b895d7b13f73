from typing import Optional

class Engine:
    def start(self):
        pass

def run(engine: Engine, spare: Optional[Engine] = None):
    engine.start()

def fact(n):
    return fact(n - 1) if n else 1
