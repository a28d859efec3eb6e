"""GPU faults (issue 7): a tensor above the device's buffer limit and a lost device come back as
RuntimeErrors; the process, the CPU tensors and (for the limit) the GPU itself keep working.

Device loss is permanent for a process, so it runs in a child interpreter."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rgrad
from gpu_helpers import gpu, requires_gpu, to_np

pytestmark = requires_gpu


def test_tensor_above_the_buffer_limit_raises_and_the_device_survives():
    x = gpu(rgrad.arange(6, dtype=rgrad.float32))
    with pytest.raises(rgrad.OutOfMemoryError):
        # 2**34 float32 = 64 GiB: over any adapter's max_buffer_size (lavapipe's is 2-4 GiB)
        rgrad.empty(2 ** 34, device="gpu")
    assert issubclass(rgrad.OutOfMemoryError, RuntimeError)
    with pytest.raises(RuntimeError):
        gpu(rgrad.ones(1)).expand(2 ** 34).contiguous()
    np.testing.assert_array_equal(to_np(x * 2), np.arange(6, dtype=np.float32) * 2)


DEVICE_LOSS = textwrap.dedent("""
    import numpy as np
    import rgrad
    from rgrad import _C

    c = rgrad.arange(6, dtype=rgrad.float32)
    g = c.to("gpu") * 2
    assert g.tolist() == [0, 2, 4, 6, 8, 10]
    _C._gpu_simulate_device_loss()

    failures = []
    for name, op in [
        ("read back", lambda: g.cpu()),
        ("item", lambda: g.sum().item()),
        ("elementwise", lambda: (g + 1).cpu()),
        ("new tensor", lambda: rgrad.ones(3, device="gpu").cpu()),
        ("upload", lambda: c.to("gpu").cpu()),
        ("matmul", lambda: (g[None] @ g[:, None]).cpu()),
        ("synchronize", lambda: rgrad.gpu.synchronize()),
    ]:
        try:
            op()
            failures.append(name + " did not raise")
        except RuntimeError as e:
            if "lost" not in str(e):
                failures.append(f"{name}: {e}")
    assert not failures, failures
    del g  # freeing a GPU tensor after the loss must not crash either
    # CPU work is unaffected
    np.testing.assert_array_equal((c * 3).numpy(), np.arange(6, dtype=np.float32) * 3)
    print("SURVIVED")
""")


def test_device_loss_raises_runtime_errors_and_cpu_survives():
    r = subprocess.run([sys.executable, "-c", DEVICE_LOSS], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, RUST_BACKTRACE="0"))
    assert r.returncode == 0 and "SURVIVED" in r.stdout, (r.returncode, r.stdout[-2000:], r.stderr[-4000:])


OUT_OF_MEMORY = textwrap.dedent("""
    import resource
    import numpy as np
    import rgrad

    c = rgrad.arange(6, dtype=rgrad.float32)
    small = c.to("gpu") * 2
    # cap the address space so that the software device's memory (host memory) runs out well
    # before the machine's, then fill the GPU with 64 MiB tensors (under the per-buffer limit)
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))
    held, err = [], None
    try:
        for _ in range(200):
            held.append(rgrad.empty(2 ** 24, device="gpu").fill_(1.0))
    except RuntimeError as e:
        err = e
    assert err is not None and "out of memory" in str(err), (len(held), err)
    # torch's class for it, a RuntimeError subclass, under both of torch's names
    assert type(err) is rgrad.OutOfMemoryError is rgrad.cuda.OutOfMemoryError, type(err)
    print("HELD", len(held), "ERROR", str(err).splitlines()[0])
    del held
    rgrad.gpu.empty_cache()
    # the device and the CPU keep working once the memory is back
    assert (small + 1).tolist() == [1, 3, 5, 7, 9, 11]
    assert (rgrad.ones(1000, device="gpu").sum()).item() == 1000
    np.testing.assert_array_equal((c * 3).numpy(), np.arange(6, dtype=np.float32) * 3)
    print("SURVIVED")
""")


def test_out_of_memory_raises_and_the_device_survives():
    # in a child: the address-space cap must not reach the test runner
    code = OUT_OF_MEMORY.replace("CAP", str(6 * 2 ** 30))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, RUST_BACKTRACE="0"))
    assert r.returncode == 0 and "SURVIVED" in r.stdout, (r.returncode, r.stdout[-2000:], r.stderr[-4000:])
