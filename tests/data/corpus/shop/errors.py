"""Errors of the shop."""


class ShopError(Exception):
    """Base of all shop errors."""

    def hint(self):
        return "see the shop log"


class OutOfStock(ShopError):
    """An item has no stock left."""

    def hint(self):
        return "order more stock"


class BadQty(ShopError):
    """A quantity is zero or negative."""

    def hint(self):
        return "use a positive qty"


def check_qty(qty):
    if qty <= 0:
        raise BadQty(qty)
    return qty
