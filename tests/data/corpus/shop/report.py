"""Text reports of carts and stores."""

from shop.core import Cart
from shop.store import Store, demo
from shop.tax import net, tax


def lines(cart):
    return [line.item.label() for line in cart.lines.values()]


def show(cart):
    text = "\n".join(lines(cart))
    return f"{text}\ntotal {cart.total()} tax {tax(cart.total())}"


def summary(store, cart):
    return {"left": dict(store.stock), "sold": store.sold, "net": net(cart.total())}


def main():
    store = Store()
    cart = Cart()
    print(show(cart), summary(store, cart), demo())
