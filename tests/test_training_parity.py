"""End to end against torch: the same model code, written once against the torch API, runs under
rgrad and torch with the same initial weights and the same batches; the loss trajectories and the
final weights must agree to float32 rounding. This exercises modules, functional ops, losses,
autograd and optimizers together, as a user's training loop does.

Under the GPU pass rgrad's model is built on the GPU (the default device) and each batch, made
with from_numpy on the CPU as in torch, is moved to the model's device in the loop; torch runs on
the CPU as the oracle."""

import numpy as np
import pytest

import rgrad
from helpers import DEVICES, requires_torch, to_np, torch

pytestmark = requires_torch
DEVICE = DEVICES[0]


def cnn(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            # no bias before BatchNorm: its gradient is rounding noise that Adam would amplify
            self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2)
            self.fc = nn.Linear(16 * 4 * 4, 10)

        def forward(self, x):
            x = lib.relu(self.bn1(self.conv1(x)))
            x = nn.functional.max_pool2d(lib.relu(self.conv2(x)), 1)
            return self.fc(lib.flatten(x, 1))
    return Net()


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.GELU(), nn.LayerNorm(32), nn.Linear(32, 10))


OPTIMIZERS = {
    "sgd_momentum": lambda lib, p: lib.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam": lambda lib, p: lib.optim.Adam(p, lr=1e-2),
    "adamw_amsgrad": lambda lib, p: lib.optim.AdamW(p, lr=1e-2, amsgrad=True),
    "rmsprop": lambda lib, p: lib.optim.RMSprop(p, lr=1e-3, momentum=0.5),
}


def copy_weights(src, dst):
    """torch module -> rgrad module, by state_dict name."""
    state = {k: rgrad.from_numpy(v.detach().numpy().copy()) for k, v in src.state_dict().items()}
    dst.load_state_dict(state)


@pytest.mark.parametrize("arch", [cnn, mlp], ids=["cnn", "mlp"])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
def test_same_training_trajectory_as_torch(arch, opt_name):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    ref, ours = arch(torch), arch(rgrad)
    copy_weights(ref, ours)
    # the CPU weights were copied into parameters (and buffers) that stay on the default device
    assert {t.device.type for t in list(ours.parameters()) + list(ours.buffers())} == {DEVICE}
    device = {torch: "cpu", rgrad: DEVICE}
    opt_ref = OPTIMIZERS[opt_name](torch, ref.parameters())
    opt_ours = OPTIMIZERS[opt_name](rgrad, ours.parameters())
    loss_ref, loss_ours = torch.nn.CrossEntropyLoss(), rgrad.nn.CrossEntropyLoss()
    for step in range(8):
        x = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
        y = rng.integers(0, 10, 16)
        losses = []
        for lib, model, opt, fn in ((torch, ref, opt_ref, loss_ref), (rgrad, ours, opt_ours, loss_ours)):
            opt.zero_grad()
            loss = fn(model(lib.from_numpy(x).to(device[lib])), lib.from_numpy(y).to(device[lib]))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        np.testing.assert_allclose(losses[1], losses[0], rtol=2e-4, err_msg=f"step {step}")
    ref_state, our_state = ref.state_dict(), ours.state_dict()
    assert list(our_state) == list(ref_state)
    for k, v in ref_state.items():
        np.testing.assert_allclose(to_np(our_state[k]), v.numpy(), rtol=2e-3, atol=2e-4, err_msg=k)
    # eval mode uses the running statistics both libraries accumulated
    ref.eval(), ours.eval()
    x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(to_np(ours(rgrad.from_numpy(x).to(DEVICE)).detach()),
                               ref(torch.from_numpy(x)).detach().numpy(), rtol=2e-3, atol=2e-4)
