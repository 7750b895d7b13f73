"""Items and carts."""

from shop.errors import BadQty, check_qty
from shop.tax import Rate, tax


class Item:
    def __init__(self, name, price, rate=None):
        self.name = name
        self.price = price
        self.rate = rate or Rate()

    def cost(self, qty):
        check_qty(qty)
        return self.rate.apply(self.price * qty)

    def label(self):
        return f"{self.name} @ {self.price}"


class Line:
    def __init__(self, item, qty):
        self.item = item
        self.qty = check_qty(qty)

    def cost(self):
        return self.item.cost(self.qty)

    def grow(self, qty):
        self.qty = self.qty + check_qty(qty)
        return self.qty


class Cart:
    def __init__(self):
        self.lines = {}

    def add(self, item, qty=1):
        line = self.lines.get(item.name)
        if line is None:
            line = Line(item, qty)
            self.lines[item.name] = line
        else:
            line.grow(qty)
        return line

    def remove(self, item):
        line = self.lines.pop(item.name, None)
        if line is None:
            raise BadQty(0)
        return line

    def total(self):
        return sum(line.cost() for line in self.lines.values())

    def count(self):
        return sum(line.qty for line in self.lines.values())

    def items(self):
        return [line.item for line in self.lines.values()]

    def taxed(self):
        return tax(self.total())
