"""rgrad.Size: the tuple subclass that ``Tensor.shape`` returns."""

import builtins


class Size(tuple):
    """Sizes of a tensor, a tuple of ints printing as ``rgrad.Size([2, 3])``.

    Example::

        >>> rgrad.zeros(2, 3).shape
        rgrad.Size([2, 3])
    """

    __slots__ = ()

    def __new__(cls, sizes=()):
        return super().__new__(cls, (builtins.int(s) for s in sizes))

    def __repr__(self):
        return f"rgrad.Size([{', '.join(str(s) for s in self)}])"

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = super().__getitem__(item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __reduce__(self):
        return (Size, (tuple(self),))
