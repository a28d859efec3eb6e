"""rgrad.save / rgrad.load (torch's zip format, interchangeable with torch.save/torch.load),
the restricted unpickler, and the safetensors format (against the safetensors package).

Under the GPU pass the saved tensors live on the GPU: as torch does with CUDA tensors, rgrad
records them under the location "cuda:0" and loads them back on the GPU, unless `map_location`
says otherwise; tensors torch saved from the CPU load on the CPU (torch.load ignores the default
device). safetensors files carry no device: load_file places tensors on its `device` ("cpu")."""

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
from helpers import DEVICES, DTYPES, assert_matches, device_dtypes, requires_torch, to_np, torch
from gpu_helpers import requires_gpu

DEVICE = DEVICES[0]


def sample(dtype, shape=(2, 3), seed=0):
    """A `dtype` tensor on the session's device, with the same values in both passes (converted
    from float64 on the CPU, then moved)."""
    a = np.random.default_rng(seed).standard_normal(shape) * 5
    if dtype == "bool":
        return rgrad.tensor(a > 0)
    return rgrad.tensor(a, device="cpu").to(getattr(rgrad, dtype)).to(DEVICE)


def same(a, b, device=None):
    """b is a's equal, tensors on a's device (or on `device` when given, e.g. by a map_location)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, rgrad.Tensor):
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape) and a.requires_grad == b.requires_grad
        assert b.device == (rgrad.device(device) if device is not None else a.device), (a.device, b.device)
        assert a.float().tolist() == b.float().tolist()
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k], device)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y, device)
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
        same(obj, rgrad.load(f, map_location="cpu"), device="cpu")


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
    # torch reads the storage locations rgrad wrote ("cuda:0" for GPU tensors, as torch writes
    # CUDA ones); the callable keeps the storages on the CPU, where a CUDA-less torch can hold them
    locations = []
    from_rgrad = torch.load(buf, weights_only=True, map_location=lambda s, loc: (locations.append(loc), s)[1])
    assert locations == ["cuda:0" if t.device.type == "gpu" else "cpu"] * 2
    assert_matches(t, from_rgrad["t"])
    assert_matches(t[:, 1:], from_rgrad["view"])
    assert from_rgrad["list"] == [1, "a"]
    tt = from_rgrad["t"]
    buf = io.BytesIO()
    torch.save(collections.OrderedDict(t=tt, view=tt[1:, ::2], p=torch.nn.Parameter(torch.ones(2))), buf)
    buf.seek(0)
    # torch saved CPU tensors: they load on the CPU whatever the default device, as in torch
    from_torch = rgrad.load(buf)
    for k in from_torch:
        assert from_torch[k].device.type == "cpu", (k, from_torch[k].device)
    assert_matches(from_torch["t"], tt, cpu_result=True)
    assert_matches(from_torch["view"], tt[1:, ::2], cpu_result=True)
    assert isinstance(from_torch["p"], rgrad.nn.Parameter)
    # ... and on the session's device when map_location says so (the view rebuilt there)
    buf.seek(0)
    on_device = rgrad.load(buf, map_location=DEVICE)
    assert_matches(on_device["t"], tt)
    assert_matches(on_device["view"], tt[1:, ::2])
    assert isinstance(on_device["p"], rgrad.nn.Parameter) and on_device["p"].device == rgrad.device(DEVICE)


@requires_gpu
def test_gpu_tensors_load_back_on_the_gpu_and_follow_map_location(tmp_path):
    """In both passes: GPU tensors are saved under torch's CUDA location name and come back on the
    GPU, CPU tensors on the CPU, each moved by map_location as torch moves them."""
    gpu, cpu = rgrad.device("gpu"), rgrad.device("cpu")
    g = rgrad.randn(3, 4, device="gpu")
    p = rgrad.nn.Parameter(rgrad.randn(3, device="gpu"))
    obj = {"g": g, "view": g[:, 1::2].t(), "p": p, "c": rgrad.arange(4, device="cpu"),
           "f64": rgrad.ones(2, dtype=rgrad.float64, device="cpu"), "again": g}
    path = tmp_path / "gpu.pt"
    rgrad.save(obj, path)
    if torch is not None:
        locations = []
        torch.load(path, weights_only=True, map_location=lambda s, loc: (locations.append(loc), s)[1])
        assert locations == ["cuda:0", "cuda:0", "cuda:0", "cpu", "cpu"]
    got = rgrad.load(path)
    same(obj, got)
    assert got["again"] is got["g"] and isinstance(got["p"], rgrad.nn.Parameter) and got["p"].is_leaf
    (got["p"] * got["g"][:, 0]).sum().backward()
    assert got["p"].grad.device == gpu
    np.testing.assert_allclose(to_np(got["p"].grad), to_np(g[:, 0]))
    # a callable returning None keeps the saved locations; one returning the storage keeps the
    # CPU storage it was given, as in torch
    same(obj, rgrad.load(path, map_location=lambda s, loc: None))
    for to_cpu in ("cpu", cpu, {"cuda:0": "cpu"}, lambda s, loc: s):
        same(obj, rgrad.load(path, map_location=to_cpu), device="cpu")
    # everything to the GPU, except float64, which the GPU refuses (TypeError, as everywhere)
    with pytest.raises(TypeError, match="float64"):
        rgrad.load(path, map_location="gpu")
    del obj["f64"]
    rgrad.save(obj, path)
    for to_gpu in ("gpu", "cuda", "cuda:0", gpu, 0, {"cpu": "gpu"}, lambda s, loc: s.to("gpu")):
        same(obj, rgrad.load(path, map_location=to_gpu), device="gpu")
    # a GPU model's state dict loads into a CPU model, and a CPU-mapped one into a GPU model
    model = rgrad.nn.Linear(3, 2).to("gpu")
    rgrad.save(model.state_dict(), path)
    on_cpu, on_gpu = rgrad.nn.Linear(3, 2).to("cpu"), rgrad.nn.Linear(3, 2).to("gpu")
    on_cpu.load_state_dict(rgrad.load(path))
    on_gpu.load_state_dict(rgrad.load(path, map_location="cpu"))
    for m, dev in ((on_cpu, cpu), (on_gpu, gpu)):
        for name, param in m.named_parameters():
            assert param.device == dev and param.tolist() == getattr(model, name).tolist()


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
    """On the session's device: every dtype it holds (no float64 under the GPU pass)."""
    return {f"{d}_{i}": sample(d, shape, seed=i) for i, shape in enumerate([(2, 3), (4,)])
            for d in device_dtypes(DTYPES)}


def test_safetensors_roundtrip(tmp_path):
    ts = tensors_of_every_dtype()
    ts["empty"] = rgrad.zeros(0, 2)
    ts["scalar"] = rgrad.tensor(3.5)
    ts["view"] = rgrad.arange(12.0).reshape(3, 4)[:, 1::2]
    path = tmp_path / "m.safetensors"
    serialization.save_file(ts, path, metadata={"format": "pt"})
    # a safetensors file records no device: load_file places everything on `device` (the CPU by
    # default, as safetensors.torch.load_file does)
    got = serialization.load_file(path)
    assert sorted(got) == sorted(ts)
    for k in ts:
        same(ts[k], got[k], device="cpu")
    got = serialization.load_file(path, device=DEVICE)
    assert sorted(got) == sorted(ts)
    for k in ts:
        same(ts[k], got[k])


def test_safetensors_bytes_match_the_safetensors_package():
    st = pytest.importorskip("safetensors.torch")
    ts = tensors_of_every_dtype()
    ours = serialization._safetensors_bytes(ts, {"format": "pt"})
    # numpy has no bfloat16: that one goes through float32, which holds it exactly.
    theirs = st.save({k: torch.from_numpy(to_np(v)).bfloat16() if v.dtype == rgrad.bfloat16
                      else torch.from_numpy(to_np(v)) for k, v in ts.items()}, metadata={"format": "pt"})
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
    for device in sorted({"cpu", DEVICE}):
        got = serialization.load_file(path, device=device)["a"]
        assert got.device == rgrad.device(device)
        assert got.tolist() == want.tolist()
        np.testing.assert_array_equal(to_np(got.to(rgrad.uint8)), want.astype(np.uint8))
        np.testing.assert_array_equal(to_np(got == True), want)  # noqa: E712
        assert got.sum().item() == int(want.sum())


def test_safetensors_shape_overflowing_int64_is_refused(tmp_path):
    for shape in ([2 ** 62, 4], [2 ** 62, 4, 0], [0, 2 ** 62, 2 ** 62]):
        path = _st_file(tmp_path, {"a": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}})
        with pytest.raises((ValueError, RuntimeError)):
            serialization.load_file(path)
