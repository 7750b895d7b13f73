"""A store with stock, selling into carts."""

from shop.core import Cart, Item
from shop.errors import BadQty, OutOfStock, ShopError, check_qty
from shop.tax import HalfRate, VatRate, net


class Store:
    def __init__(self):
        self.stock = {}
        self.items = {}
        self.sold = 0

    def put(self, item, qty):
        check_qty(qty)
        self.items[item.name] = item
        self.stock[item.name] = self.stock.get(item.name, 0) + qty
        return self.stock[item.name]

    def left(self, name):
        return self.stock.get(name, 0)

    def take(self, name, qty):
        if self.left(name) < qty:
            raise OutOfStock(name)
        self.stock[name] = self.left(name) - qty
        self.sold = self.sold + qty
        return self.items[name]

    def buy(self, cart, name, qty=1):
        try:
            item = self.take(name, check_qty(qty))
        except BadQty:
            return None
        return cart.add(item, qty)

    def sell(self, orders):
        cart = Cart()
        for name, qty in orders:
            try:
                self.buy(cart, name, qty)
            except OutOfStock as err:
                print(err.hint())
            except ShopError:
                raise
        return cart

    def income(self, cart):
        return net(cart.total())


def demo():
    store = Store()
    store.put(Item("pen", 2, VatRate()), 10)
    store.put(Item("ink", 5, HalfRate()), 3)
    cart = store.sell([("pen", 2), ("ink", 1), ("ink", 9)])
    return store.income(cart), cart.count(), store.left("ink")
