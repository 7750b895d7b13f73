import threading
from collections import OrderedDict

class Worker(threading.Thread):
    def go(self):
        self.start()
        self.join()

d = OrderedDict()
d.move_to_end("x")
Worker().go()
