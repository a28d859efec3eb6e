"""``rgrad.return_types``: the named-tuple results of ops such as ``linalg.svd`` or ``max(dim)``.

Every module that returns named tuples registers its types here, so there is one
``rgrad.return_types`` module however many ops add to it."""

import sys
import types
from collections import namedtuple

return_types = sys.modules.get("rgrad.return_types")
if return_types is None:
    return_types = types.ModuleType("rgrad.return_types", "Named-tuple results of rgrad ops.")
    sys.modules["rgrad.return_types"] = return_types


def return_type(name, fields):
    """The named-tuple class ``rgrad.return_types.<name>`` with torch's field names and repr."""
    existing = getattr(return_types, name, None)
    if existing is not None:
        return existing
    cls = namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"rgrad.return_types.{name}(\n{body})"

    cls.__repr__ = __repr__
    cls.__module__ = "rgrad.return_types"
    cls.__qualname__ = name
    setattr(return_types, name, cls)
    return cls
