import math as m
from typing import Iterator

from . import utils
from .base import Shape, ShapeError

SCALE = 1.0


class Square(Shape):
    def __init__(self, side: float) -> None:
        self.side = side

    def area(self) -> float:
        if self.side < 0:
            raise ShapeError("négative side")
        return self.side * self.side * SCALE

    @staticmethod
    def unit() -> "Square":
        return Square(1.0)

    @classmethod
    def zero(cls):
        return cls.unit()

    def diagonal(self):
        return m.sqrt(2) * self.side

    def report(self):
        return self.describe()


def tile(count: int) -> Iterator[Square]:
    for _ in range(count):
        yield Square.unit()


async def safe_area(shape: Shape):
    try:
        return shape.area()
    except ShapeError:
        return 0.0


def rescale(factor):
    global SCALE
    SCALE = factor * utils.helper()
