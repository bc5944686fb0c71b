"""Pickling moto's backends for the local AWS's saved state (see :mod:`.state_store`).

Stands in for AWS only. moto's objects hold a few things plain pickle refuses: locks and conditions (they
come back as new ones), a ``WeakValueDictionary`` of Lambda functions (rebuilt from the same objects) and
``defaultdict(lambda: {})`` (rebuilt with ``dict`` as its factory). S3 keys and Lambda functions bring their
own ``__getstate__`` (the object's bytes instead of its temporary file; no Docker client).
"""

from __future__ import annotations

import collections
import copyreg
import io
import pickle
import threading
import weakref
from typing import Any

def _rebuild_weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary:
    return weakref.WeakValueDictionary(items)


def _rebuild_defaultdict(factory: Any, items: dict[Any, Any]) -> collections.defaultdict:
    return collections.defaultdict(factory, items)


def _reduce_defaultdict(value: collections.defaultdict) -> tuple[Any, ...]:
    factory = value.default_factory
    if factory is not None and getattr(factory, "__name__", "") == "<lambda>":
        sample = factory()  # moto's ``defaultdict(lambda: {})``: keep the behaviour with a named factory
        factory = type(sample) if type(sample) in (dict, list, set, int) and not sample else None
        if factory is None:
            raise pickle.PicklingError(f"defaultdict with an unnamed factory returning {sample!r}")
    return _rebuild_defaultdict, (factory, dict(value))


def _new(kind: Any) -> Any:
    return kind()


_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
DISPATCH = copyreg.dispatch_table.copy()
for _lock_type in _LOCK_TYPES:
    DISPATCH[_lock_type] = lambda lock, _t=_lock_type: (_new, (threading.Lock if _t is _LOCK_TYPES[0] else threading.RLock,))
DISPATCH[threading.Condition] = lambda cond: (_new, (threading.Condition,))
DISPATCH[weakref.WeakValueDictionary] = lambda wvd: (_rebuild_weak_values, (dict(wvd.items()),))
DISPATCH[collections.defaultdict] = _reduce_defaultdict


def dumps(value: Any) -> bytes:
    """Pickle moto objects: locks and conditions come back new, weak maps and lambda defaultdicts are rebuilt."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = DISPATCH
    pickler.dump(value)
    return buffer.getvalue()


def moto_version() -> str:
    import moto

    return moto.__version__


def moto_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
