from .base import Shape
from .square import Square
