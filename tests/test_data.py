"""rgrad.utils.data against torch.utils.data: datasets, samplers, batching, collate structure,
DataLoader options and errors, and seeded determinism.

Under the GPU pass the datasets' tensors live on the GPU, and the batches rgrad builds from
numbers and numpy arrays land on the default device (the GPU), as torch's do under
torch.set_default_device; torch's batches stay on the CPU as the oracle."""

import collections

import numpy as np
import pytest

import rgrad
from rgrad.utils import data as rdata
from helpers import DEVICES, ON_GPU, assert_matches, refuses_float64, requires_torch, to_np, torch

pytestmark = requires_torch
tdata = torch.utils.data if torch is not None else None
DEVICE = DEVICES[0]


def structure(x):
    """A comparable description of a batch: container types, tensor shapes/dtypes and values.
    rgrad's tensors must be on the session's device."""
    if isinstance(x, rgrad.Tensor):
        assert x.device.type == DEVICE, f"batch tensor on {x.device} under the {DEVICE} pass"
        return ("T", tuple(x.shape), str(x.dtype).split(".")[-1], to_np(x.detach()).tolist())
    if isinstance(x, torch.Tensor):
        return ("T", tuple(x.shape), str(x.dtype).split(".")[-1], x.detach().numpy().tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: structure(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [structure(v) for v in x])
    return x


def make_pair(n=10, d=3):
    x = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n, dtype=np.int64)
    return (rdata.TensorDataset(rgrad.tensor(x), rgrad.tensor(y)),
            tdata.TensorDataset(torch.tensor(x), torch.tensor(y)))


@pytest.mark.parametrize("batch_size", [1, 3, 4, 10, 11, None])
@pytest.mark.parametrize("drop_last", [False, True])
def test_tensor_dataset_batches_match_torch(batch_size, drop_last):
    if batch_size is None and drop_last:
        pytest.skip("exclusive options")
    rds, tds = make_pair()
    rl = rdata.DataLoader(rds, batch_size=batch_size, drop_last=drop_last)
    tl = tdata.DataLoader(tds, batch_size=batch_size, drop_last=drop_last)
    assert len(rl) == len(tl)
    got, want = [structure(b) for b in rl], [structure(b) for b in tl]
    assert got == want


def test_cpu_tensor_dataset_batches_stay_on_the_cpu():
    # a dataset kept on the CPU (the usual setup: batches moved to the model's device in the
    # loop) yields CPU batches whatever the default device, as in torch
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    rds = rdata.TensorDataset(rgrad.tensor(x, device="cpu"), rgrad.arange(10, device="cpu"))
    tds = tdata.TensorDataset(torch.tensor(x), torch.arange(10))
    for kw in (dict(batch_size=4), dict(batch_size=3, sampler=[9, 2, 5, 0])):
        got = list(rdata.DataLoader(rds, **kw))
        want = list(tdata.DataLoader(tds, **kw))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            for a, b in zip(g, w):
                assert a.device.type == "cpu"
                assert_matches(a, b, cpu_result=True)


def test_subset_of_tensor_dataset_batches():
    rds, tds = make_pair(12)
    idx = [5, 0, 7, 3, 11, 2, 9]
    rl = rdata.DataLoader(rdata.Subset(rdata.Subset(rds, idx), [6, 0, 1, 2, 5]), batch_size=2)
    tl = tdata.DataLoader(tdata.Subset(tdata.Subset(tds, idx), [6, 0, 1, 2, 5]), batch_size=2)
    assert [structure(b) for b in rl] == [structure(b) for b in tl]


class MapDS:
    """A plain map-style dataset whose samples mix every collatable kind. Under the GPU pass its
    float numbers are numpy float32 scalars instead of Python floats: collating Python floats
    makes float64 tensors, which the GPU refuses (test_collate_python_floats_as_float64)."""

    Point = collections.namedtuple("Point", ["x", "y"])

    def __init__(self, mod, n=5):
        self.mod, self.n = mod, n
        self.real = np.float32 if ON_GPU else float

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        m = self.mod
        return {
            "t": m.full((2,), float(i)),
            "i": i,
            "f": self.real(i / 2),
            "b": i % 2 == 0,
            "s": f"s{i}",
            "np": np.full((2, 2), i, dtype=np.int32),
            "npscalar": np.float32(i),
            "tuple": (i, m.tensor(i)),
            "list": [i, i + 1],
            "point": self.Point(i, self.real(i)),
            "nested": {"a": [m.tensor([i, i])]},
        }


@pytest.mark.parametrize("batch_size", [2, 5])
def test_default_collate_structure_matches_torch(batch_size):
    rl = rdata.DataLoader(MapDS(rgrad), batch_size=batch_size)
    tl = tdata.DataLoader(MapDS(torch), batch_size=batch_size)
    got, want = [structure(b) for b in rl], [structure(b) for b in tl]
    assert got == want
    point = next(iter(rl))["point"]
    assert type(point) is MapDS.Point


def test_no_auto_collation_uses_default_convert():
    rl = rdata.DataLoader(MapDS(rgrad), batch_size=None)
    tl = tdata.DataLoader(MapDS(torch), batch_size=None)
    assert [structure(b) for b in rl] == [structure(b) for b in tl]


def test_collate_errors():
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        rdata.default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        rdata.default_collate([[1, 2], [1]])


def test_collate_python_floats_as_float64():
    for batch in ([np.float64(1.5), np.float64(2.5)], [1.5, 2.5], [np.array([1.5]), np.array([2.5])]):
        want = tdata.default_collate(batch)
        if refuses_float64(want):
            # a float64 batch on the default device: the GPU refuses float64 (as torch's MPS does)
            with pytest.raises(TypeError, match="float64"):
                rdata.default_collate(batch)
        else:
            assert_matches(rdata.default_collate(batch), want)


def epoch(loader):
    """The labels of one epoch of a loader over make_pair's dataset, batch by batch."""
    return [y.tolist() for _, y in loader]


def test_shuffle_is_a_seeded_permutation():
    rds, _ = make_pair(20)
    g1, g2 = rgrad.Generator().manual_seed(3), rgrad.Generator().manual_seed(3)
    a = epoch(rdata.DataLoader(rds, batch_size=6, shuffle=True, generator=g1))
    b = epoch(rdata.DataLoader(rds, batch_size=6, shuffle=True, generator=g2))
    assert a == b and [len(x) for x in a] == [6, 6, 6, 2]
    assert sorted(sum(a, [])) == list(range(20)) and sum(a, []) != list(range(20))
    loader = rdata.DataLoader(rds, batch_size=6, shuffle=True, generator=g1)
    assert epoch(loader) != a  # the generator advanced: a new epoch order


def test_shuffle_without_generator_follows_manual_seed():
    rds, _ = make_pair(20)
    rgrad.manual_seed(5)
    c = epoch(rdata.DataLoader(rds, batch_size=6, shuffle=True))
    rgrad.manual_seed(5)
    assert epoch(rdata.DataLoader(rds, batch_size=6, shuffle=True)) == c


def test_samplers_match_torch_lengths_and_contents():
    ds = list(range(7))
    g = rgrad.Generator().manual_seed(0)
    assert list(rdata.SequentialSampler(ds)) == list(tdata.SequentialSampler(ds))
    rs = rdata.RandomSampler(ds, generator=g)
    assert len(rs) == 7 and sorted(rs) == ds
    rs = rdata.RandomSampler(ds, num_samples=17, generator=g)
    got = list(rs)
    assert len(got) == len(tdata.RandomSampler(ds, num_samples=17)) == 17
    assert sorted(got[:7]) == ds and sorted(got[7:14]) == ds
    rs = rdata.RandomSampler(ds, replacement=True, num_samples=50, generator=g)
    got = list(rs)
    assert len(got) == 50 and set(got) <= set(ds)
    sub = rdata.SubsetRandomSampler([10, 20, 30], generator=g)
    assert sorted(sub) == [10, 20, 30] and len(sub) == 3
    for drop_last in (False, True):
        rb = rdata.BatchSampler(rdata.SequentialSampler(ds), 3, drop_last)
        tb = tdata.BatchSampler(tdata.SequentialSampler(ds), 3, drop_last)
        assert list(rb) == list(tb) and len(rb) == len(tb)


def test_sampler_and_batch_sampler_options():
    rds, tds = make_pair(9)
    order = [8, 1, 4, 0, 3]
    rl = rdata.DataLoader(rds, batch_size=2, sampler=order)
    tl = tdata.DataLoader(tds, batch_size=2, sampler=order)
    assert [structure(b) for b in rl] == [structure(b) for b in tl] and len(rl) == len(tl)
    batches = [[0, 2], [5, 6, 7], [1]]
    rl = rdata.DataLoader(rds, batch_sampler=batches)
    tl = tdata.DataLoader(tds, batch_sampler=batches)
    assert [structure(b) for b in rl] == [structure(b) for b in tl] and len(rl) == 3
    rl = rdata.DataLoader(rds, batch_size=4, collate_fn=lambda b: len(b))
    assert list(rl) == [4, 4, 1]
    rl = rdata.DataLoader(rds, batch_size=4, num_workers=2, pin_memory=True)
    assert [structure(b) for b in rl] == [structure(b) for b in tdata.DataLoader(tds, batch_size=4)]


@pytest.mark.parametrize("kwargs", [dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
                                    dict(persistent_workers=True), dict(sampler=[0, 1], shuffle=True),
                                    dict(batch_sampler=[[0]], batch_size=2), dict(batch_sampler=[[0]], drop_last=True),
                                    dict(batch_size=None, drop_last=True)])
def test_loader_option_errors_match_torch(kwargs):
    rds, tds = make_pair()
    with pytest.raises(ValueError) as want:
        tdata.DataLoader(tds, **kwargs)
    with pytest.raises(ValueError) as got:
        rdata.DataLoader(rds, **kwargs)
    assert str(got.value) == str(want.value)


def test_attributes_frozen_after_init():
    loader = rdata.DataLoader(make_pair()[0], batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 3
    loader.collate_fn = rdata.default_collate


class Stream(rdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class TStream(tdata.IterableDataset if tdata else object):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("batch_size,drop_last", [(3, False), (3, True), (None, False), (7, False)])
def test_iterable_dataset(batch_size, drop_last):
    rl = rdata.DataLoader(Stream(7), batch_size=batch_size, drop_last=drop_last)
    tl = tdata.DataLoader(TStream(7), batch_size=batch_size, drop_last=drop_last)
    assert [structure(b) for b in rl] == [structure(b) for b in tl]
    assert len(rl) == len(tl)
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got shuffle=True"):
        rdata.DataLoader(Stream(3), shuffle=True)
    chained = Stream(2) + Stream(3)
    assert list(chained) == [0, 1, 0, 1, 2] and len(chained) == 5


def test_concat_and_subset():
    a, b = rdata.TensorDataset(rgrad.arange(3)), rdata.TensorDataset(rgrad.arange(10, 14))
    ta, tb = tdata.TensorDataset(torch.arange(3)), tdata.TensorDataset(torch.arange(10, 14))
    rc, tc = a + b, tdata.ConcatDataset([ta, tb])
    assert len(rc) == len(tc) == 7 and rc.cumulative_sizes == tc.cumulative_sizes
    for i in list(range(7)) + [-1, -7]:
        assert rc[i][0].item() == tc[i][0].item()
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset length"):
        rc[-8]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        rdata.TensorDataset(rgrad.zeros(3), rgrad.zeros(4))
    rs = rdata.StackDataset(x=a, y=rdata.Subset(b, [0, 1, 2]))
    ts = tdata.StackDataset(x=ta, y=tdata.Subset(tb, [0, 1, 2]))
    assert len(rs) == len(ts) == 3
    assert structure(rdata.default_collate([rs[i] for i in range(3)])) == structure(
        tdata.default_collate([ts[i] for i in range(3)]))
    sub = rdata.Subset(rc, [6, 0])
    assert len(sub) == 2 and sub[0][0].item() == 13


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [0.33, 0.33, 0.34]])
def test_random_split(lengths):
    ds = list(range(10))
    rs = rdata.random_split(ds, lengths, generator=rgrad.Generator().manual_seed(1))
    ts = tdata.random_split(ds, lengths, generator=torch.Generator().manual_seed(1))
    assert [len(s) for s in rs] == [len(s) for s in ts]
    assert sorted(sum(([s[i] for i in range(len(s))] for s in rs), [])) == ds
    again = rdata.random_split(ds, lengths, generator=rgrad.Generator().manual_seed(1))
    assert [list(s.indices) for s in again] == [list(s.indices) for s in rs]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset!"):
        rdata.random_split(ds, [3, 3])


@requires_torch
def test_weighted_random_sampler_frequencies_and_errors():
    w = [0.0, 1.0, 3.0, 6.0]
    s = rgrad.utils.data.WeightedRandomSampler(w, 20_000, generator=rgrad.Generator().manual_seed(0))
    draws = np.array(list(s))
    assert len(s) == 20_000 and draws.shape == (20_000,)
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / draws.size, np.array(w) / 10, atol=0.015)
    distinct = list(rgrad.utils.data.WeightedRandomSampler(w, 3, replacement=False))
    assert sorted(distinct) == [1, 2, 3]
    for bad in [dict(num_samples=0), dict(num_samples=2, replacement=1)]:
        with pytest.raises(ValueError) as want:
            torch.utils.data.WeightedRandomSampler(w, **bad)
        with pytest.raises(ValueError) as got:
            rgrad.utils.data.WeightedRandomSampler(w, **bad)
        assert str(got.value) == str(want.value)
