"""Tests of the shop core (they give the KG its tests/tested_by facts)."""

import unittest

from shop.core import Cart, Item, Line
from shop.errors import BadQty, OutOfStock
from shop.store import Store
from shop.tax import HalfRate, VatRate, net, tax


class CartTest(unittest.TestCase):
    def test_add(self):
        cart = Cart()
        cart.add(Item("pen", 2), 3)
        self.assertEqual(cart.count(), 3)

    def test_total(self):
        cart = Cart()
        cart.add(Item("pen", 2, VatRate()), 1)
        self.assertEqual(cart.total(), 2.4)

    def test_remove(self):
        cart = Cart()
        with self.assertRaises(BadQty):
            cart.remove(Item("pen", 2))


class StoreTest(unittest.TestCase):
    def test_take(self):
        store = Store()
        store.put(Item("ink", 5), 1)
        with self.assertRaises(OutOfStock):
            store.take("ink", 2)

    def test_buy(self):
        store = Store()
        store.put(Item("ink", 5, HalfRate()), 4)
        line = store.buy(Cart(), "ink", 2)
        self.assertIsInstance(line, Line)


def test_tax():
    assert tax(10) == 2.0 and net(10) == 8.0
