"""DataLoader and the default collate functions of rgrad.utils.data.

Loading runs in the calling process: ``num_workers > 0`` is accepted (and `worker_init_fn` is
called once with worker id 0) but batches are still produced in-process, in order.
``pin_memory`` is accepted and does nothing (rgrad tensors live in host memory).
"""

import collections.abc
import re

import numpy as np

from ... import _C
from ..._creation import as_tensor, tensor
from ..._indexing_ops import stack
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

Tensor = _C.Tensor

_COLLATE_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
_NP_STR = re.compile("[SaUO]")


def get_worker_info():
    """None: rgrad's DataLoader loads in the main process."""
    return None


def default_convert(data):
    """Converts numpy arrays (recursively inside mappings and sequences) to tensors, without
    adding a batch dimension."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray) or (isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_))):
        if _NP_STR.search(data.dtype.str) is not None:
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            return type(data)({k: default_convert(v) for k, v in data.items()})
        except TypeError:
            return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def default_collate(batch):
    """Merges a list of samples into a batch: tensors are stacked on a new first dim, numpy arrays
    and numbers become tensors (floats as float64), strings stay lists, and mappings, named tuples
    and sequences are collated field by field (tuples become lists, as in torch).

    Example::

        >>> default_collate([(torch.zeros(3), 1), (torch.ones(3), 2)])
        [tensor([[0., 0., 0.], [1., 1., 1.]]), tensor([1, 2])]
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, np.ndarray):
        if _NP_STR.search(elem.dtype.str) is not None:
            raise TypeError(_COLLATE_ERROR.format(elem.dtype))
        return as_tensor(np.stack(batch))
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return as_tensor(np.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=_C.float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        try:
            return type(elem)({k: default_collate([d[k] for d in batch]) for k in elem})
        except TypeError:
            return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [list(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return [default_collate(s) for s in transposed]
        try:
            return type(elem)([default_collate(s) for s in transposed])
        except TypeError:
            return [default_collate(s) for s in transposed]
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def _row_gatherer(dataset):
    """For a TensorDataset, possibly under Subsets: indices -> the default_collate of those
    samples, as one index_select per tensor instead of a stack of single rows."""
    maps = []
    while type(dataset) is Subset:
        maps.append(dataset.indices)
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:
        return None
    tensors = dataset.tensors

    def gather(indices):
        for m in maps:
            indices = [m[i] for i in indices]
        index = tensor(indices, dtype=_C.int64)
        return [t.index_select(0, index) for t in tensors]

    return gather


class _InfiniteConstantSampler(Sampler):
    def __iter__(self):
        while True:
            yield None


class _LoaderIter:
    """Iterator over one epoch of a DataLoader."""

    def __init__(self, loader):
        self._loader = loader
        self._dataset = loader.dataset
        self._collate = loader.collate_fn
        self._auto = loader._auto_collation
        self._iterable = isinstance(loader.dataset, IterableDataset)
        if loader.num_workers > 0 and loader.worker_init_fn is not None:
            loader.worker_init_fn(0)
        if self._iterable:
            self._source = iter(loader.dataset)
            self._ended = False
        else:
            self._source = iter(loader._index_sampler)
            self._gather = _row_gatherer(loader.dataset) if self._collate is default_collate and self._auto else None

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def __next__(self):
        if self._iterable:
            data = self._next_iterable()
        else:
            index = next(self._source)
            if not self._auto:
                data = self._collate(self._dataset[index])
            elif self._gather is not None:
                data = self._gather(index)
            else:
                getitems = getattr(self._dataset, "__getitems__", None)
                samples = getitems(index) if getitems is not None else [self._dataset[i] for i in index]
                data = self._collate(samples)
        return data

    def _next_iterable(self):
        if self._ended:
            raise StopIteration
        if not self._auto:
            return self._collate(next(self._source))
        loader = self._loader
        batch = []
        for _ in range(loader.batch_size):
            try:
                batch.append(next(self._source))
            except StopIteration:
                self._ended = True
                break
        if not batch or (loader.drop_last and len(batch) < loader.batch_size):
            raise StopIteration
        return self._collate(batch)


class DataLoader:
    """Iterates over `dataset` in batches.

    Args:
        dataset: a map-style Dataset (``__getitem__``/``__len__``) or an IterableDataset.
        batch_size (int or None): samples per batch (default 1); None yields single samples.
        shuffle (bool): visit a new random permutation every epoch (uses `generator`, or the
            global RNG, so ``rgrad.manual_seed`` fixes the order).
        sampler, batch_sampler: custom index orders (exclusive with shuffle / batch options).
        num_workers (int): accepted; loading always runs in the calling process.
        collate_fn: merges a list of samples into a batch (default: :func:`default_collate`).
        pin_memory (bool): accepted; a no-op.
        drop_last (bool): drop the last incomplete batch.
        generator (rgrad.Generator): the RNG of the default RandomSampler.

    Example::

        >>> ds = TensorDataset(torch.randn(10, 3), torch.arange(10))
        >>> [x.shape for x, y in DataLoader(ds, batch_size=4)]
        [rgrad.Size([4, 3]), rgrad.Size([4, 3]), rgrad.Size([2, 3])]
    """

    _FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if isinstance(dataset, IterableDataset):
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                                 f"got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                                 "drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self.__initialized = True

    def __setattr__(self, attr, val):
        if self.__dict__.get("_DataLoader__initialized") and attr in self._FROZEN:
            raise ValueError(f"{attr} attribute should not be set after {self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        return _LoaderIter(self)

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else -(-length // self.batch_size)
            return length
        return len(self._index_sampler)
