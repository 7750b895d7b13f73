"""Tax rates."""

RATE = 0.2
ZERO = 0.0


class Rate:
    value = ZERO

    def apply(self, amount):
        return amount + self.part(amount)

    def part(self, amount):
        return amount * self.value


class VatRate(Rate):
    value = RATE

    def apply(self, amount):
        return round(Rate.apply(self, amount), 2)


class HalfRate(VatRate):
    value = RATE / 2

    def part(self, amount):
        return round(amount * self.value, 2)


def tax(amount, rate=None):
    rate = rate or VatRate()
    return rate.part(amount)


def net(amount, rate=None):
    rate = rate or VatRate()
    return amount - rate.part(amount)
