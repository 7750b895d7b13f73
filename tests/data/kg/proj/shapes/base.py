import abc


class ShapeError(ValueError):
    """Raised for impossible shapes."""


class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self) -> float:
        """Surface of the shape."""

    def describe(self) -> str:
        return f"{type(self).__name__} of area {self.area()}"
