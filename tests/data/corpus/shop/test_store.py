"""Tests of the store and orders."""

import unittest

from shop.core import Cart, Item
from shop.errors import BadQty, OutOfStock
from shop.orders import Order, OrderError, RushOrder, place, rush
from shop.store import Store, demo


def stocked():
    store = Store()
    store.put(Item("pen", 2), 5)
    store.put(Item("ink", 4), 2)
    return store


class OrderTest(unittest.TestCase):
    def test_pay(self):
        order = Order(stocked())
        order.add("pen", 2)
        self.assertEqual(order.pay(10), 6)

    def test_ship(self):
        order = Order(stocked())
        with self.assertRaises(OrderError):
            order.ship()

    def test_refund(self):
        store = stocked()
        order = Order(store)
        order.add("ink", 1)
        order.pay(order.due())
        order.refund()
        self.assertEqual(store.left("ink"), 2)

    def test_rush(self):
        order = rush(stocked(), "pen")
        self.assertIsInstance(order, RushOrder)
        self.assertEqual(order.due(), 5)


class StoreTest(unittest.TestCase):
    def test_put(self):
        with self.assertRaises(BadQty):
            stocked().put(Item("pen", 2), 0)

    def test_take(self):
        with self.assertRaises(OutOfStock):
            stocked().take("ink", 3)

    def test_place(self):
        order, paid = place(stocked(), [("pen", 1), ("ink", 9)])
        self.assertIsInstance(order.cart, Cart)
        self.assertEqual(paid, 1.6)


def test_demo():
    income, count, left = demo()
    assert count == 3 and left == 2
