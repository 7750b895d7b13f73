class Adder:
    def __call__(self, x):
        return x

class Button:
    def __init__(self):
        self.callback = self.clicked

    def clicked(self):
        pass

    def press(self):
        self.callback()

add = Adder()
add(1)
Button().press()
