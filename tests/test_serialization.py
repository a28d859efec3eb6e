"""rgrad.save / rgrad.load (torch's zip format, interchangeable with torch.save/torch.load),
the restricted unpickler, and the safetensors format (against the safetensors package)."""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import rgrad
from rgrad import serialization
from helpers import DTYPES, assert_matches, requires_torch, torch


def sample(dtype, shape=(2, 3), seed=0):
    a = np.random.default_rng(seed).standard_normal(shape) * 5
    if dtype == "bool":
        return rgrad.tensor(a > 0)
    return rgrad.tensor(a).to(getattr(rgrad, dtype))


def same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, rgrad.Tensor):
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape) and a.requires_grad == b.requires_grad
        assert a.float().tolist() == b.float().tolist()
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        assert a == b


def roundtrip(obj):
    buf = io.BytesIO()
    rgrad.save(obj, buf)
    buf.seek(0)
    return rgrad.load(buf), buf.getvalue()


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_roundtrip_every_dtype(dtype):
    t = sample(dtype)
    got, _ = roundtrip(t)
    same(t, got)


def test_views_and_nested_containers(tmp_path):
    base = rgrad.arange(24, dtype=rgrad.float32).reshape(4, 6)
    sd = collections.OrderedDict(w=base[1:3, ::2], t=base.t(), s=base[2, 3], e=rgrad.zeros(0, 3))
    obj = {"sd": sd, "n": [1, 2.5, True, None, "x", b"raw", (3, [4])], "size": rgrad.Size([2, 3]),
           "dtype": rgrad.bfloat16, "c": 1 + 2j, "set": {1, 2}}
    path = tmp_path / "obj.pt"
    rgrad.save(obj, path)
    got = rgrad.load(str(path))
    same(obj, got)
    assert isinstance(got["sd"], collections.OrderedDict) and got["size"] == rgrad.Size([2, 3])
    with open(path, "rb") as f:
        same(obj, rgrad.load(f, map_location="cpu"))


def test_parameters_requires_grad_and_shared_objects():
    p = rgrad.nn.Parameter(rgrad.randn(3))
    x = rgrad.randn(2, requires_grad=True)
    got, _ = roundtrip({"p": p, "x": x, "again": x})
    assert isinstance(got["p"], rgrad.nn.Parameter) and got["p"].requires_grad
    same(x, got["x"])
    assert got["again"] is got["x"]


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_files_interchange_with_torch(dtype):
    t = sample(dtype)
    buf = io.BytesIO()
    rgrad.save({"t": t, "view": t[:, 1:], "list": [1, "a"]}, buf)
    buf.seek(0)
    from_rgrad = torch.load(buf, weights_only=True)
    assert_matches(t, from_rgrad["t"])
    assert_matches(t[:, 1:], from_rgrad["view"])
    assert from_rgrad["list"] == [1, "a"]
    tt = from_rgrad["t"]
    buf = io.BytesIO()
    torch.save(collections.OrderedDict(t=tt, view=tt[1:, ::2], p=torch.nn.Parameter(torch.ones(2))), buf)
    buf.seek(0)
    from_torch = rgrad.load(buf)
    assert_matches(from_torch["t"], tt)
    assert_matches(from_torch["view"], tt[1:, ::2])
    assert isinstance(from_torch["p"], rgrad.nn.Parameter)


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))


MARKER = "/tmp/rgrad_serialization_pwned"


def _archive_with(pkl_bytes):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl_bytes)
        z.writestr("archive/version", "3\n")
    buf.seek(0)
    return buf


@pytest.mark.parametrize("weights_only", [True, False])
def test_malicious_pickle_is_refused_and_not_run(weights_only):
    if os.path.exists(MARKER):
        os.remove(MARKER)
    for payload in (pickle.dumps(Evil(), protocol=2), pickle.dumps({"ok": [Evil()]}, protocol=4)):
        with pytest.raises(pickle.UnpicklingError, match="unsupported global posix.system"):
            rgrad.load(_archive_with(payload), weights_only=weights_only)
    with pytest.raises(pickle.UnpicklingError, match="not a zip archive"):
        rgrad.load(io.BytesIO(pickle.dumps(Evil())))
    assert not os.path.exists(MARKER)


def test_corrupted_archives_raise():
    with pytest.raises(pickle.UnpicklingError, match="unsupported global builtins.eval"):
        rgrad.load(_archive_with(b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1q\x00\x85R."))
    _, data = roundtrip({"t": rgrad.arange(10)})
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in src.namelist():
            body = src.read(name)
            z.writestr(name, body[:-8] if name.startswith("archive/data/") else body)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="fewer than the 80"):
        rgrad.load(buf)


# ----- safetensors -------------------------------------------------------------------------

def tensors_of_every_dtype():
    return {f"{d}_{i}": sample(d, shape, seed=i) for i, shape in enumerate([(2, 3), (4,)]) for d in DTYPES}


def test_safetensors_roundtrip(tmp_path):
    ts = tensors_of_every_dtype()
    ts["empty"] = rgrad.zeros(0, 2)
    ts["scalar"] = rgrad.tensor(3.5)
    ts["view"] = rgrad.arange(12.0).reshape(3, 4)[:, 1::2]
    path = tmp_path / "m.safetensors"
    serialization.save_file(ts, path, metadata={"format": "pt"})
    got = serialization.load_file(path)
    assert sorted(got) == sorted(ts)
    for k in ts:
        same(ts[k], got[k])


def test_safetensors_bytes_match_the_safetensors_package():
    st = pytest.importorskip("safetensors.torch")
    ts = tensors_of_every_dtype()
    ours = serialization._safetensors_bytes(ts, {"format": "pt"})
    # numpy has no bfloat16: that one goes through float32, which holds it exactly.
    theirs = st.save({k: torch.from_numpy(v.float().numpy()).bfloat16() if v.dtype == rgrad.bfloat16
                      else torch.from_numpy(v.numpy()) for k, v in ts.items()}, metadata={"format": "pt"})
    assert ours == theirs
    loaded = st.load(ours)
    for k, v in ts.items():
        assert_matches(v, loaded[k])


def _st_file(tmp_path, header, data=b""):
    body = header if isinstance(header, bytes) else __import__("json").dumps(header).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(body)) + body + data)
    return path


def test_safetensors_malformed_files_raise_clear_errors(tmp_path):
    good = serialization._safetensors_bytes({"a": rgrad.ones(4)}, None)
    path = tmp_path / "t.safetensors"
    for cut, msg in [(4, "HeaderTooSmall"), (20, "InvalidHeaderLength"), (len(good) - 1, "MetadataIncompleteBuffer")]:
        path.write_bytes(good[:cut])
        with pytest.raises(ValueError, match=msg):
            serialization.load_file(path)
    path.write_bytes(struct.pack("<Q", 2 ** 60) + b"{}")
    with pytest.raises(ValueError, match="HeaderTooLarge"):
        serialization.load_file(path)
    cases = [
        (b"not json", "InvalidHeaderDeserialization"),
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, "TensorInvalidInfo"),
        ({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, "invalid entry"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, "invalid entry"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, "InvalidOffset"),
    ]
    for header, msg in cases:
        with pytest.raises(ValueError, match=msg):
            serialization.load_file(_st_file(tmp_path, header, b"\0" * 8))


def test_safetensors_bool_bytes_other_than_0_and_1(tmp_path):
    # a crafted file may hold any byte in a BOOL tensor; read as numpy reads it (non-zero is
    # True) and stored as 1, since a Rust bool of 2 is undefined behaviour
    raw = bytes([0, 1, 2, 255])
    path = _st_file(tmp_path, {"a": {"dtype": "BOOL", "shape": [4], "data_offsets": [0, 4]}}, raw)
    want = np.frombuffer(raw, dtype=np.uint8) != 0
    got = serialization.load_file(path)["a"]
    assert got.tolist() == want.tolist()
    np.testing.assert_array_equal(got.to(rgrad.uint8).numpy(), want.astype(np.uint8))
    np.testing.assert_array_equal((got == True).numpy(), want)  # noqa: E712
    assert got.sum().item() == int(want.sum())


def test_safetensors_shape_overflowing_int64_is_refused(tmp_path):
    for shape in ([2 ** 62, 4], [2 ** 62, 4, 0], [0, 2 ** 62, 2 ** 62]):
        path = _st_file(tmp_path, {"a": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}})
        with pytest.raises((ValueError, RuntimeError)):
            serialization.load_file(path)
