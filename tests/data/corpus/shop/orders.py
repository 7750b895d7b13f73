"""Orders: a cart bought from a store, paid, shipped or refunded."""

from shop.core import Cart
from shop.errors import BadQty, OutOfStock, ShopError
from shop.store import Store
from shop.tax import VatRate, net, tax

NEW = "new"
PAID = "paid"
SENT = "sent"


class OrderError(ShopError):
    """An order moved to a state it cannot reach."""

    def hint(self):
        return "check the order state"


class Order:
    def __init__(self, store, cart=None):
        self.store = store
        self.cart = cart or Cart()
        self.state = NEW
        self.paid = 0

    def add(self, name, qty=1):
        if self.state != NEW:
            raise OrderError(self.state)
        return self.store.buy(self.cart, name, qty)

    def due(self):
        return self.cart.total()

    def pay(self, amount):
        if amount < self.due():
            raise BadQty(amount)
        self.paid = amount
        self.state = PAID
        return amount - self.due()

    def ship(self):
        if self.state != PAID:
            raise OrderError(self.state)
        self.state = SENT
        return self.cart.count()

    def refund(self):
        if self.state == NEW:
            raise OrderError(self.state)
        for item in self.cart.items():
            self.store.put(item, 1)
        self.state = NEW
        return self.paid

    def vat(self):
        return tax(self.due(), VatRate())


class RushOrder(Order):
    fee = 3

    def due(self):
        return Order.due(self) + self.fee

    def ship(self):
        count = Order.ship(self)
        return count + 1


def place(store, orders):
    order = Order(store)
    for name, qty in orders:
        try:
            order.add(name, qty)
        except OutOfStock:
            continue
    return order, net(order.due())


def rush(store, name):
    order = RushOrder(Store() if store is None else store)
    order.add(name)
    return order
