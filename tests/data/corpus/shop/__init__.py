"""A small shop: items, carts, stock and tax. Test corpus with short names and dense cross-references."""

from shop.core import Cart, Item
from shop.errors import BadQty, OutOfStock, ShopError
from shop.store import Store

__all__ = ["Cart", "Item", "Store", "ShopError", "OutOfStock", "BadQty"]
