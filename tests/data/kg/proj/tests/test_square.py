from shapes.square import Square


def test_area():
    assert Square(2.0).area() == 4.0


class TestSquare:
    def test_unit(self):
        assert Square.unit().side == 1.0
