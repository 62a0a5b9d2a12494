"""The simulated accelerator (LVM_SIMULATED_ACCELERATOR): device bugs fail on a CPU-only machine.

The test suite runs every notebook with it (conftest.py), so a notebook that would stop on CUDA or
mps stops here too. These tests pin down what it refuses and what it lets through."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from utils import _simulated_device as sim

DEV = sim.SIMULATED_DEVICE


@pytest.fixture(scope="module", autouse=True)
def simulation():
    mode = sim.SimulatedAccelerator()
    with mode:
        yield


def _net():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


# Each mistake as a notebook makes it, with what CUDA or mps would say about it.
MISTAKES = {
    # lecture 01 at 2b55928: the data moved to the device, then float64 (mps has none)
    "float64 of device data": (lambda: torch.rand(8, 4).to(DEV).double(), TypeError, "no float64"),
    "float64 made on the device": (lambda: torch.zeros(3, dtype=torch.float64, device=DEV), TypeError, "no float64"),
    "to(device, float64)": (lambda: torch.rand(3).to(DEV, torch.float64), TypeError, "no float64"),
    # solution 05 at 2b55928: the data on the device, the given networks left on the CPU
    "model left on the CPU": (lambda: _net()(torch.rand(8, 4).to(DEV)), sim.DeviceMixError, "linear mixes"),
    "noise made without device=": (lambda: torch.rand(8, 4).to(DEV) + torch.randn(8, 4), sim.DeviceMixError, "add mixes"),
    "CPU value written into a device tensor": (lambda: _setitem(), sim.DeviceMixError, "mixes"),
    "numpy of a device tensor": (lambda: np.asarray(torch.rand(3).to(DEV)), TypeError, r"use \.cpu\(\) first"),
    "torch.cat across devices": (lambda: torch.cat([torch.rand(2, 3).to(DEV), torch.rand(2, 3)]), sim.DeviceMixError, "cat mixes"),
}


def _setitem():
    t = torch.zeros(4, 2, device=DEV)
    t[0] = torch.ones(2)


@pytest.mark.parametrize("name", MISTAKES)
def test_a_device_mistake_is_refused(name):
    make, error, words = MISTAKES[name]
    with pytest.raises(error, match=words):
        make()


def _train_two_steps():
    net = _net().to(DEV)
    x = torch.rand(8, 4).to(DEV)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(2):
        loss = net(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss


CORRECT = {
    "training a model on the device": _train_two_steps,
    "device=x.device makes a device tensor": lambda: torch.rand(3).to(DEV) + torch.randn(3, device=torch.rand(3).to(DEV).device),
    "float64 on a CPU copy": lambda: torch.rand(3).to(DEV).cpu().double().sum(),
    "a CPU scalar with a device tensor": lambda: torch.rand(3).to(DEV) * torch.tensor(2.0),
    "a CPU index into a device tensor": lambda: torch.rand(5, 2).to(DEV)[torch.tensor([0, 3])],
    "gradients by autograd.grad": lambda: torch.autograd.grad(
        (w := torch.rand(3).to(DEV).requires_grad_()).square().sum(), w)[0] + torch.rand(3).to(DEV),
    "numpy of a CPU copy": lambda: np.asarray(torch.rand(3).to(DEV).cpu()),
}


@pytest.mark.parametrize("name", CORRECT)
def test_correct_device_code_runs(name):
    CORRECT[name]()


def test_a_device_tensor_reports_the_device_and_a_cpu_copy_does_not():
    x = torch.rand(3).to(DEV)
    assert x.device == DEV and sim.on_device(x[1:])             # views share the device
    assert x.cpu().device == torch.device("cpu") and not sim.on_device(x.cpu())


def test_moving_to_the_device_copies_so_the_cpu_original_stays_on_the_cpu():
    x = torch.rand(3)
    y = x.to(DEV)
    assert sim.on_device(y) and not sim.on_device(x)
    assert torch.equal(x, y.cpu())


def test_setup_with_the_setting_returns_the_simulated_device():
    code = ("from utils.runtime import setup; import torch; d, _ = setup(seed=0, threads=1); "
            "x = torch.rand(3).to(d); x.double()")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8",
                         env={**__import__("os").environ, "LVM_SIMULATED_ACCELERATOR": "1"})
    assert "device: cpu:0" in run.stdout
    assert run.returncode != 0 and "no float64" in run.stderr
